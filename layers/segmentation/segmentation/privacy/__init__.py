"""Privacy: the suppression list that keeps erased and opted-out people from coming back."""

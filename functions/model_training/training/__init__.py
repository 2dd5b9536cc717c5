"""Fitting the AI segments' models: BG/NBD, Gamma-Gamma, RFM breaks, clusters and replenishment intervals.

Everything here runs in the training function only: it needs numpy and scipy, which the shared layer must
never import. The result is one JSON *model document* (see ``document``) that the layer scores from in pure
Python.
"""

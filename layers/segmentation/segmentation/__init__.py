"""Customer segmentation: profiles and facts in, segment memberships and channel syncs out.

Package layout mirrors the architecture:

- ``domain``    pydantic models of what the shop tells us (profiles, orders, engagement, consent)
- ``features``  the attribute catalogue and the pure function that derives features at a given ``now``
- ``rules``     the rule language: parse/validate, evaluate, explain, dependencies
- ``segments``  segment definitions, built-in templates and real-time membership
- ``store``     DynamoDB data access (the only place that touches boto3 for tables)
- ``sync``      sync tasks, the membership-changed event and channel adapters
- ``api``       REST routes (Powertools resolver) used by the ``api`` function
"""

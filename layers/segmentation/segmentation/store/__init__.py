"""DynamoDB data access: the only package that talks to boto3 about tables.

Key design (one table; see docs/data-model.md):

=====================  =====================  ====================================================
PK                     SK                     what
=====================  =====================  ====================================================
``C#<customer>``       ``#P``                 profile + feature snapshot + version (GSI2: boundary)
``C#<customer>``       ``M#<segment>``        membership + its history (GSI1 ``S#<segment>`` while a member)
``C#<customer>``       ``O#<placed>#<order>`` completed order
``C#<customer>``       ``R#<order>#<at>``     refund of an order
``C#<customer>``       ``V#<at>#<event>``     engagement event (TTL)
``E#<email>``          ``#E``                 email -> customer id (uniqueness and import merge)
``SEGMENTS``           ``<segment>``          current segment definitions (one query lists them all)
``SEGV#<segment>``     ``V#<version>``        every version of a definition
``SEGV#<segment>``     ``SYNC#<channel>``     sync state of a segment at one channel
``MODEL``              ``CURRENT``            the current model document (scoring reads it)
``MODEL``              ``V#<version>``        every published model document
=====================  =====================  ====================================================
"""

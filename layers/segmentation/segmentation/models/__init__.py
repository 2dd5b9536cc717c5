"""AI segments, scoring side: RFM, BG/NBD, Gamma-Gamma, CLV, churn risk, clusters, affinity and replenishment.

Training (a separate function with numpy/scipy) fits the models and publishes one JSON *model document*; this
package reads it and scores a customer in closed form, in pure Python, inside the real-time feature path:

- ``document``  the document's pydantic models (validated once per load)
- ``formulas``  the BG/NBD and Gamma-Gamma closed forms, with a pure-Python hypergeometric series
- ``rfm``       RFM scores and the named groups of the R x F grid
- ``scoring``   ``ScoringModel.score``: one customer's model attributes at ``now``
- ``cache``     the current model, reloaded from the table at most every ``MODEL_CACHE_SECONDS``
- ``explain``   what an AI segment's explanation adds: the scores, the model version, fallback and bounds

Importing this package is cheap (no numpy, no scipy, no pydantic schema built until a document is parsed).
"""

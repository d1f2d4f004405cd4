"""Estimators for panels of entities over time, independent of what the columns mean.

Modules: ``dynamic`` (two-way FE with lagged outcomes: fe, bias_corrected, gmm), ``jackknife``
(split-panel jackknife), ``gmm`` (Arellano-Bond difference GMM), ``inference`` (wild cluster
bootstrap, randomization inference), ``event_study`` (did2s / saturated event study,
Callaway-Sant'Anna group-time effects), ``demean`` (two-way demeaning).
"""

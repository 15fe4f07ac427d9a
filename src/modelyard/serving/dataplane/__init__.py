"""The data plane: the path of an inference request behind every protocol (REST and gRPC).

Admission (rate limit, breaker, in-flight slots: ``limiter``, ``breaker``), routing between the
versions of a model (``deployment``), one served version with its batcher and warm-up
(``version``, ``batcher``), the call itself (``plane``), metrics and statistics (``metrics``,
``stats``) and, off the request path, the prediction log and its sinks (``predlog``, ``sinks``,
``kafka_sink``, ``kafka_outcomes``). It knows no wire format: the front ends decode before
and encode after.
"""

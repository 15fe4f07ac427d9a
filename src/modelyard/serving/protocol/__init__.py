"""The wire: what a request and an answer look like, before any model is involved.

Errors with their HTTP status (``errors``), size and count bounds (``limits``), the model
signature a request is checked against (``signature``), the REST bodies of OIP v2 and v1
(``codec``), the OIP v2 gRPC messages (``grpc_codec``), the HTTP answer helpers (``http``) and
the OpenAPI document (``openapi``). Nothing here loads a model or holds server state.
"""

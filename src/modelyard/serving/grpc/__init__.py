"""The gRPC front end: the OIP v2 ``GRPCInferenceService`` (``service``) on the same
``DataPlane`` as the HTTP front end, and the ``grpc.aio`` server that runs it on the same event
loop (``server``). Imported only when a gRPC port is asked for, so HTTP-only servers never load
grpcio."""

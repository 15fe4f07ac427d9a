"""The Open Inference Protocol's gRPC messages and service, generated from its ``.proto``.

``open_inference_grpc.proto`` is the OIP v2 text as KServe publishes it (Apache-2.0, see
``LICENSE.open-inference-protocol``); ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` are
generated from it and committed, so that a server needs grpcio and protobuf but not
grpcio-tools. Regenerate them (``tests/serving/test_grpc_stubs.py`` checks they are current)::

    python -m grpc_tools.protoc -Isrc --python_out=src --pyi_out=src --grpc_python_out=src \\
        src/modelyard/serving/protocol/oip/open_inference_grpc.proto

The messages' full names are the OIP's (``inference.ModelInferRequest``), as the service's
path must be for clients to reach it; protobuf keeps one definition per name in a process, so
this module and ``tritonclient.grpc`` (which ships its own copy) cannot be imported in the
same process.
"""

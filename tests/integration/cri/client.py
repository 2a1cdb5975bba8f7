"""A minimal CRI client over gRPC: runtime_v1.proto (a subset of k8s.io/cri-api runtime.v1) compiled
with grpc_tools.protoc into a temporary directory at test time, nothing downloaded. Every RPC is
called as cri.<Rpc>(field=value, ...): the request is <Rpc>Request built from the keywords."""
import importlib
import pathlib
import subprocess
import sys

PROTO = pathlib.Path(__file__).with_name("runtime_v1.proto")
IMAGE_RPCS = ("ImageStatus",)


def missing():
    """None when the gRPC Python packages import, else what to install."""
    for mod in ("grpc", "grpc_tools.protoc"):
        try:
            importlib.import_module(mod)
        except ImportError as e:
            return (f"the CRI client needs {mod} ({e}): apt-get install python3-grpcio python3-grpc-tools "
                    "(hack/deps.sh)")
    return None


def generate(outdir):
    """runtime_v1_pb2 and runtime_v1_pb2_grpc, generated into OUTDIR and imported."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO.parent}", f"--python_out={outdir}",
                        f"--grpc_python_out={outdir}", PROTO.name], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"protoc {PROTO}: exit {r.returncode}: {r.stderr.strip()}")
    if str(outdir) not in sys.path:
        sys.path.insert(0, str(outdir))
    return importlib.import_module("runtime_v1_pb2"), importlib.import_module("runtime_v1_pb2_grpc")


class Cri:
    def __init__(self, sock, stubdir, timeout=300):
        import grpc
        self.pb, grpc_mod = generate(stubdir)
        self.channel = grpc.insecure_channel("unix://" + str(sock))
        self.runtime = grpc_mod.RuntimeServiceStub(self.channel)
        self.image = grpc_mod.ImageServiceStub(self.channel)
        self.timeout = timeout

    def __getattr__(self, rpc):
        if not rpc[:1].isupper():
            raise AttributeError(rpc)
        stub = self.image if rpc in IMAGE_RPCS else self.runtime
        method = getattr(stub, rpc)
        request = getattr(self.pb, rpc + "Request")

        def call(timeout=None, **fields):
            return method(request(**fields), timeout=timeout or self.timeout)
        return call

    def close(self):
        self.channel.close()

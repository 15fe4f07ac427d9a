"""How MLflow and boto3 reach a remote artifact store: endpoint, region, credentials file.

MLflow's S3 artifact repository and boto3 take their settings from environment variables
only (``MLFLOW_S3_ENDPOINT_URL`` for a store that is not AWS, ``AWS_SHARED_CREDENTIALS_FILE``,
``AWS_DEFAULT_REGION``). Users write them once in ``modelyard.yaml``; the tracking adapter sets
them for its own process and hands them to training scripts, so nobody exports them by hand.
Every value here is an address or a file *path*: the keys themselves stay in the file, off
the command line, out of the environment and out of the logs.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.errors import ConfigError

if TYPE_CHECKING:
    from modelyard.config import Workspace

ENDPOINT_VAR = "MLFLOW_S3_ENDPOINT_URL"
CREDENTIALS_VAR = "AWS_SHARED_CREDENTIALS_FILE"
REGION_VAR = "AWS_DEFAULT_REGION"


@dataclass(frozen=True)
class StoreAccess:
    """Where the S3 endpoint is and which file holds its credentials (never a secret)."""

    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    aws_credentials_file: str | None = None
    """A boto3 shared-credentials file; the ``[default]`` profile is used."""

    @classmethod
    def of(cls, workspace: Workspace) -> StoreAccess:
        """The access settings of ``workspace``'s ``s3`` and ``credentials`` keys."""
        s3 = workspace.settings.s3
        creds = workspace.aws_credentials_file
        return cls(s3.endpoint_url, s3.region, None if creds is None else str(creds))

    def env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The variables MLflow and boto3 read, for those ``environ`` does not set already.

        A variable set in the environment wins: a pod's ``AWS_SHARED_CREDENTIALS_FILE`` names
        the mounted Secret, while the workspace's ``credentials.aws`` names a developer's file.
        """
        environ = os.environ if environ is None else environ
        wanted = {
            ENDPOINT_VAR: self.s3_endpoint_url,
            REGION_VAR: self.s3_region,
            CREDENTIALS_VAR: self.aws_credentials_file,
        }
        out = {k: v for k, v in wanted.items() if v is not None and not environ.get(k)}
        named = out.get(CREDENTIALS_VAR)
        if named is not None and not Path(named).is_file():
            raise ConfigError(
                f"modelyard.yaml: credentials.aws: {named} is not a file; write the path of a "
                "boto3 credentials file with a [default] profile (aws_access_key_id, "
                "aws_secret_access_key), or unset the key to use boto3's own lookup"
            )
        return out

    def apply(self, store: str = "") -> None:
        """Set :meth:`env` in this process, for MLflow's and boto3's clients here; an
        ``s3://`` ``store`` also needs boto3 installed, which is checked here, once, with
        the fix, instead of failing deep inside MLflow."""
        os.environ.update(self.env())
        if store.startswith("s3://") and importlib.util.find_spec("boto3") is None:
            raise ConfigError(
                f"artifact_store {store} needs boto3, which is not installed: "
                "pip install 'modelyard[s3]' (or boto3) in this environment"
            )

    def as_dict(self) -> dict[str, str | None]:
        return dict(self.__dict__)

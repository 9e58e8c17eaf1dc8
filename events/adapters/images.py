"""Container image references as Docker reads them: ``[registry/]repository[:tag][@digest]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
# Other names of Docker Hub, so that scopes written for docker.io match whatever spelling a tool used.
_DOCKER_HUB_ALIASES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io"}


@dataclass(frozen=True)
class ImageRef:
    registry: str = ""
    repository: str = ""
    tag: str = ""
    digest: str = ""

    def fields(self) -> dict[str, str]:
        return {"registry": self.registry, "repository": self.repository, "tag": self.tag, "digest": self.digest}

    def __bool__(self) -> bool:
        return bool(self.repository or self.digest)

    def __str__(self) -> str:
        """The short form people read: ``registry/repository:tag``, or ``…@sha256:<12 hex>`` without a tag."""
        ref = "/".join(part for part in (self.registry, self.repository) if part)
        if self.tag:
            return f"{ref}:{self.tag}"
        if self.digest:
            return f"{ref}@{self.digest[:19]}"
        return ref


_REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".oci", ".json")


def looks_like_image_reference(value: str) -> bool:
    """True for ``[registry/]repo[:tag][@digest]``; false for file paths, archives and ``.``."""
    value = value.strip()
    return bool(_REFERENCE_RE.match(value)) and not value.lower().endswith(_ARCHIVE_SUFFIXES)


def normalize_registry(registry: str) -> str:
    registry = registry.strip().lower()
    return DOCKER_HUB if registry in _DOCKER_HUB_ALIASES else registry


def parse_image_reference(reference: str) -> ImageRef:
    """Split ``[registry/]repository[:tag][@digest]`` as Docker does.

    The first component is a registry only when it has a dot or a port or is ``localhost``; otherwise Docker Hub
    is implied, and a one-component Docker Hub repository is an official image (``alpine`` → ``library/alpine``).
    """
    reference = reference.strip()
    if not reference:
        return ImageRef()
    name, _, digest = reference.partition("@")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, repository = normalize_registry(first), rest
    else:
        registry, repository = DOCKER_HUB, name
    return image_ref(registry, repository, tag, digest)


def image_ref(registry: str, repository: str, tag: str = "", digest: str = "") -> ImageRef:
    """An :class:`ImageRef` from parts, with Docker Hub spellings and official images normalised."""
    registry = normalize_registry(registry)
    repository = repository.strip().strip("/")
    if registry == DOCKER_HUB and repository and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(registry, repository, tag.strip(), digest.strip())


def digest_of(reference: str) -> str:
    """The ``sha256:…`` part of ``repo@sha256:…`` ('' when there is none)."""
    return reference.partition("@")[2].strip()

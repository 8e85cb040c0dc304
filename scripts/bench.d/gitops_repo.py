#!/usr/bin/env python3
"""Write a `git fast-import` stream of a synthetic infrastructure repository:
COMMITS commits on main over FILES files (service configs plus the overlays
and app-of-apps directory the GitOps tasks edit). Deterministic: the same
arguments give the same repository, so benchmark runs compare like with like.

usage: gitops_repo.py [COMMITS=20000] [FILES=5000] | git fast-import --quiet
"""
import sys

COMMITS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
FILES = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
out = sys.stdout.buffer


class Lcg:
    """A tiny linear congruential generator: stable across Python versions."""

    def __init__(self, seed):
        self.state = seed

    def next(self, bound):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.state >> 33) % bound


rng = Lcg(20261127)
KEYS = ["replicas", "cpu", "memory", "timeout", "image", "port", "retries", "feature", "owner", "tier"]


def line(n):
    key = KEYS[rng.next(len(KEYS))]
    return f"  {key}_{n}: value-{rng.next(1 << 30):08x}-{rng.next(1 << 30):08x}-{rng.next(1 << 30):08x}\n"


FIXED = {
    "base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - service.yaml\n",
    "base/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n",
    "base/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n",
    "overlays/integration/kustomization.yaml": (
        "# integration overlay\nresources:\n  - ../../base\nnamespace: apps-integration\n"
        "images:\n  - name: shop\n    newTag: \"1.42.0\"\n"
    ),
    "overlays/sandbox/kustomization.yaml": (
        "# every sandbox starts from this overlay\nresources:\n  - ../../base\nnamespace: apps-sandbox\n"
        "images:\n  - name: shop\n    newTag: \"1.41.0\"\n"
    ),
}
for i in range(10):
    FIXED[f"apps/sandboxes/sbx-pr-{900 + i}.yaml"] = f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: sbx-pr-{900 + i}\n"

paths = list(FIXED) + [
    f"services/svc-{i // 50:03d}/config-{i:05d}.yaml" for i in range(max(0, FILES - len(FIXED)))
]
contents = dict(FIXED)
for p in paths[len(FIXED):]:
    contents[p] = "config:\n" + "".join(line(n) for n in range(20 + rng.next(40)))


def data(b):
    out.write(b"data %d\n" % len(b))
    out.write(b)
    out.write(b"\n")


when = 1700000000
changeable = paths[len(FIXED):]
for c in range(COMMITS):
    when += 97
    out.write(b"commit refs/heads/main\n")
    out.write(b"committer Infra Bot <infra@example.invalid> %d +0000\n" % when)
    data(f"change {c}\n".encode())
    touched = paths if c == 0 else [changeable[rng.next(len(changeable))] for _ in range(1 + rng.next(2))]
    for p in touched:
        if c > 0:
            lines = contents[p].splitlines(keepends=True)
            k = 1 + rng.next(len(lines) - 1)
            lines[k] = line(k)
            contents[p] = "".join(lines)
        out.write(f"M 100644 inline {p}\n".encode())
        data(contents[p].encode())
    out.write(b"\n")

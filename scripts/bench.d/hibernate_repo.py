#!/usr/bin/env python3
"""Write a `git fast-import` stream of an infrastructure repository with N
registered sandboxes: on main a base of 3 Deployments, 1 StatefulSet, a
CronJob and a Service, one overlay per sandbox (overlays/sbx-pr-K), and its
Application in apps/sandboxes/ in register-app's shape (deploying branch
sbx-pr-K); each branch sbx-pr-K points at main.

usage: hibernate_repo.py URL [N=100] | git fast-import --quiet
"""
import sys

URL = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100
out = sys.stdout.buffer


def deployment(name, replicas):
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
        f"  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n"
        f"  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n"
        f"      containers:\n        - name: {name}\n          image: nginx:1.27\n"
    )


FILES = {
    "base/kustomization.yaml": "resources:\n  - web.yaml\n  - api.yaml\n  - worker.yaml\n"
    "  - db.yaml\n  - nightly.yaml\n  - svc.yaml\n",
    "base/web.yaml": deployment("web", 2),
    "base/api.yaml": deployment("api", 3),
    "base/worker.yaml": deployment("worker", 1),
    "base/db.yaml": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n"
    "  replicas: 1\n  serviceName: db\n  selector:\n    matchLabels: {app: db}\n"
    "  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n"
    "        - name: db\n          image: postgres:16\n",
    "base/nightly.yaml": "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\n"
    "spec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n"
    "        spec:\n          restartPolicy: Never\n          containers:\n"
    "            - name: job\n              image: busybox\n",
    "base/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
    "  ports:\n    - port: 80\n",
}
for k in range(1, N + 1):
    env = f"sbx-pr-{k}"
    FILES[f"overlays/{env}/kustomization.yaml"] = f"namePrefix: {env}-\nresources:\n  - ../../base\n"
    FILES[f"apps/sandboxes/{env}.yaml"] = (
        f"# Written by register-app for sandbox {env}; unregister-app removes\n"
        "# it, and the finalizer makes Argo CD delete everything it deployed.\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n"
        f"  name: {env}\n  namespace: argocd\n  labels:\n"
        "    app.kubernetes.io/managed-by: argo-sandbox\n"
        f"    argo-sandbox.io/environment: {env}\n    argo-sandbox.io/pr-number: \"{k}\"\n"
        "  finalizers:\n    - resources-finalizer.argocd.argoproj.io\nspec:\n"
        f"  project: default\n  source:\n    repoURL: \"{URL}\"\n"
        f"    targetRevision: \"{env}\"\n    path: \"overlays/{env}\"\n"
        "  destination:\n    server: \"https://kubernetes.default.svc\"\n"
        f"    namespace: apps-{env}\n  syncPolicy:\n    automated:\n      prune: true\n"
        "      selfHeal: true\n    syncOptions:\n      - CreateNamespace=true\n"
    )


def emit(s):
    out.write(s.encode() if isinstance(s, str) else s)


emit("commit refs/heads/main\nmark :1\n")
emit("committer Bench <bench@example.invalid> 1764633600 +0000\n")
msg = f"{N} sandboxes".encode()
emit(f"data {len(msg)}\n")
emit(msg + b"\n")
for path, text in sorted(FILES.items()):
    data = text.encode()
    emit(f"M 100644 inline {path}\ndata {len(data)}\n")
    emit(data + b"\n")
for k in range(1, N + 1):
    emit(f"reset refs/heads/sbx-pr-{k}\nfrom :1\n\n")

#!/usr/bin/env python3
"""Checks the Kubernetes manifests in cluster/kubernetes/ (docs/operations.md, "Kubernetes").

    check_manifests.py SOURCE_DIR [SHOALD]

Every *.yaml file must parse (PyYAML's safe_load_all) into objects with apiVersion, kind and
metadata.name, and together they must hold a working deployment:
  - a StatefulSet whose serviceName is a headless Service (clusterIP None, not-ready addresses
    published) selecting the StatefulSet's pods and exposing the peer port over UDP and TCP;
  - shoald's arguments: every --flag is one `SHOALD --help` lists (when SHOALD is given), every
    $(VAR) is defined in env, the seed is the headless Service's name on the peer port, the peer
    address advertised is the pod's IP;
  - readiness, liveness and startup probes GET /stats on the client port; a preStop hook drains;
  - secret volumes are not group- or world-writable.
Exits 0 when all hold, 1 with one line per problem otherwise, 77 (ctest: skipped) when PyYAML is
not installed.
"""
import pathlib
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("check_manifests: PyYAML is not installed; skipped")
    sys.exit(77)


def load(directory):
    docs, problems = [], []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problems.append(f"no manifests in {directory}")
    for path in files:
        try:
            loaded = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            problems.append(f"{path.name}: does not parse: {e}")
            continue
        for d in loaded:
            if not isinstance(d, dict) or not all(k in d for k in ("apiVersion", "kind", "metadata")):
                problems.append(f"{path.name}: an object without apiVersion, kind or metadata")
            elif not d["metadata"].get("name"):
                problems.append(f"{path.name}: a {d['kind']} without a name")
            else:
                docs.append(d)
    return docs, problems


def shoald_flags(shoald):
    out = subprocess.run([shoald, "--help"], capture_output=True, text=True, check=False).stdout
    return set(re.findall(r"(--[a-z0-9-]+)", out))


def flag_values(args):
    values = {}
    for a in args:
        m = re.fullmatch(r"(--[a-z0-9-]+)(?:=(.*))?", a)
        if m:
            values.setdefault(m.group(1), []).append(m.group(2) or "")
    return values


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def check_statefulset(sts, services, flags):
    problems = []
    name = sts["metadata"]["name"]
    pod = sts["spec"]["template"]
    labels = pod["metadata"].get("labels", {})
    headless = services.get(sts["spec"].get("serviceName"))
    if headless is None:
        return [f"StatefulSet {name}: serviceName names no Service"]
    hs = headless["spec"]
    if hs.get("clusterIP") != "None":
        problems.append(f"Service {headless['metadata']['name']}: not headless (clusterIP: None)")
    if not hs.get("publishNotReadyAddresses"):
        problems.append(f"Service {headless['metadata']['name']}: members must find each other "
                        "before they are Ready (publishNotReadyAddresses: true)")
    if any(labels.get(k) != v for k, v in hs.get("selector", {}).items()) or not hs.get("selector"):
        problems.append(f"Service {headless['metadata']['name']}: selector misses the pods")

    [c] = [c for c in pod["spec"]["containers"] if "shoald" in " ".join(c.get("command", []))]
    args = c.get("args", [])
    values = flag_values(args)
    if flags:
        for f in values:
            if f not in flags:
                problems.append(f"shoald has no flag {f}")
    defined = {e["name"] for e in c.get("env", [])}
    for a in args:
        for var in re.findall(r"\$\((\w+)\)", a):
            if var not in defined:
                problems.append(f"$({var}) in '{a}' is not defined in env")
    for f in ("--node-id", "--listen", "--peer-listen", "--peer-advertise", "--seed",
              "--cluster-key-file"):
        if f not in values:
            problems.append(f"shoald is not given {f}")
    if problems:
        return problems
    peer_port = port_of(values["--peer-listen"][0])
    client_port = port_of(values["--listen"][0])
    if values["--peer-advertise"][0] != f"$(POD_IP):{peer_port}":
        problems.append("--peer-advertise must be the pod's IP on the peer port")
    seed = values["--seed"][0]
    if not seed.startswith(headless["metadata"]["name"] + ".") or port_of(seed) != peer_port:
        problems.append(f"--seed {seed} is not the headless Service on the peer port")
    exposed = {(p["port"], p.get("protocol", "TCP")) for p in hs.get("ports", [])}
    for proto in ("UDP", "TCP"):
        if (peer_port, proto) not in exposed:
            problems.append(f"the headless Service does not expose {peer_port}/{proto}")

    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c.get(probe, {}).get("httpGet")
        port = get and ports.get(get["port"], get["port"])
        if not get or get.get("path") != "/stats" or port != client_port:
            problems.append(f"{probe} must GET /stats on the client port {client_port}")
    pre_stop = " ".join(c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", []))
    if "drain" not in pre_stop:
        problems.append("no preStop hook that drains (shoalctl drain or POST /admin/drain)")
    for v in pod["spec"].get("volumes", []):
        mode = v.get("secret", {}).get("defaultMode")
        if mode is not None and mode & 0o022:
            problems.append(f"volume {v['name']}: secret files writable by group or others")
    return problems


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    root = pathlib.Path(sys.argv[1])
    docs, problems = load(root / "cluster" / "kubernetes")
    flags = shoald_flags(sys.argv[2]) if len(sys.argv) == 3 else set()
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    statefulsets = [d for d in docs if d["kind"] == "StatefulSet"]
    if not statefulsets:
        problems.append("no StatefulSet")
    for sts in statefulsets:
        problems += check_statefulset(sts, services, flags)
    for p in problems:
        print("check_manifests: " + p)
    if not problems:
        print(f"check_manifests: {len(docs)} objects, ok")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

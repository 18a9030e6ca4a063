"""Property test: any valid config renders to YAML whose Flux objects pass the v1 schemas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.config.load import parse_config
from generator.render.files import render_tree
from generator.yamlio import dump_rt, load_all_rt
from tests.helpers import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas" / "flux"
VALIDATORS = {
    "GitRepository": jsonschema.Draft202012Validator(json.loads((SCHEMAS / "gitrepository-v1.json").read_text())),
    "Kustomization": jsonschema.Draft202012Validator(json.loads((SCHEMAS / "kustomization-v1.json").read_text())),
}
GUID = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"
names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True).filter(lambda n: n != "flux")
durations = st.sampled_from(["30s", "1m", "10m", "1h30m", "1.5h", "500ms"])


@st.composite
def kustomizations(draw: st.DrawFn) -> list[dict[str, Any]]:
    ks_names = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    items: list[dict[str, Any]] = []
    for index, name in enumerate(ks_names):
        item: dict[str, Any] = {"name": name, "path": f"apps/{name}"}
        earlier = ks_names[:index]
        if earlier:
            item["dependsOn"] = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2))
        for key, strategy in [
            ("interval", durations),
            ("timeout", durations),
            ("prune", st.booleans()),
            ("wait", st.booleans()),
            ("namespace", st.sampled_from(["flux-system", "team-a", "team-b"])),
            ("targetNamespace", names),
        ]:
            if draw(st.booleans()):
                item[key] = draw(strategy)
        if draw(st.booleans()):
            item["tenant"] = {"serviceAccount": f"{name}-sops", "identity": {"clientId": GUID}}
        items.append(item)
    return items


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    cluster_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    return {
        "flux": {"version": draw(st.sampled_from(["2.6.0", "2.7.1", "2.9.4"]))},
        "git": {"url": "ssh://git@github.com/contoso/fleet", "branch": draw(st.sampled_from(["main", "yes", "1.0"]))},
        "azure": {"tenantId": GUID},
        "sops": {"age": ["age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh"]},
        "clusters": [
            {
                "name": name,
                "path": f"clusters/{name}",
                "oidcIssuer": "https://issuer.example/x/",
                "identity": {"clientId": GUID},
                "kustomizations": draw(kustomizations()),
            }
            for name in cluster_names
        ],
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_any_valid_config_renders_schema_valid_flux_objects(raw: dict[str, Any]) -> None:
    config = parse_config(dump_rt(raw))
    files = render_tree(config)
    assert render_tree(parse_config(dump_rt(raw))) == files
    seen: dict[str, dict[str, Any]] = {}
    for relpath, data in files.items():
        for doc in load_all_rt(data.decode()):
            if doc is None:
                continue
            plain = json.loads(json.dumps(doc))
            if plain.get("kind") in VALIDATORS and plain["apiVersion"].endswith(".fluxcd.io/v1"):
                errors = [e.message for e in VALIDATORS[plain["kind"]].iter_errors(plain)]
                assert errors == [], (relpath, errors)
                seen[f"{relpath}:{plain['kind']}/{plain['metadata']['name']}"] = plain
    for cluster in raw["clusters"]:
        sync = seen[f"clusters/{cluster['name']}/flux-system/gotk-sync.yaml:Kustomization/flux-system"]
        assert sync["spec"]["path"] == f"./clusters/{cluster['name']}"
        for ks in cluster["kustomizations"]:
            spec = seen[f"clusters/{cluster['name']}/{ks['name']}.yaml:Kustomization/{ks['name']}"]["spec"]
            assert [d["name"] for d in spec.get("dependsOn", [])] == ks.get("dependsOn", [])
            assert spec["decryption"].get("serviceAccountName") == ks.get("tenant", {}).get("serviceAccount")
    repos = [v for k, v in seen.items() if k.endswith("gotk-sync.yaml:GitRepository/flux-system")]
    assert len(repos) == len(raw["clusters"])
    assert all(r["spec"]["ref"]["branch"] == raw["git"]["branch"] for r in repos)

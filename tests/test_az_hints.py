"""Every ``az`` command fluxforge shows a user is one the Azure CLI runs (issue 10 item 6).

``AZ`` is a table of the Azure CLI commands fluxforge mentions and the arguments each accepts, from the
Azure CLI sources (``azure-cli``: identity ``aaz/latest/identity/federated_credential/_create.py`` — its
list argument is ``--audiences``; keyvault ``_params.py``; role, aks, ad). The hints are collected where
users meet them: the Entra ID / Key Vault error explanations (every branch), the rendered tree (with and
without lockdown, a non-default namespace), the starter config, the schema messages, README and docs.
"""

from __future__ import annotations

import ast
import re

import pytest

from generator.commands.init import StarterValues, render_starter
from generator.config.load import parse_config
from generator.render.files import render_tree
from generator.sops.keys import azure_gates as gates
from tests.helpers import REPO_ROOT

SAMPLE = (REPO_ROOT / "sample-repo" / "fluxforge.yaml").read_text(encoding="utf-8")

GLOBAL = {"--query", "-o", "--output", "--subscription", "--only-show-errors", "--debug", "--verbose", "-h", "--help"}
AZ: dict[tuple[str, ...], set[str]] = {
    ("login",): {"--tenant", "-t", "--identity", "--service-principal", "--use-device-code", "--scope"},
    ("account", "show"): {"--name", "-n", "--subscription", "-s"},
    ("aks", "show"): {"--resource-group", "-g", "--name", "-n"},
    ("aks", "update"): {"--resource-group", "-g", "--name", "-n", "--enable-oidc-issuer", "--enable-workload-identity"},
    ("identity", "show"): {"--resource-group", "-g", "--name", "-n", "--ids"},
    ("identity", "create"): {"--name", "-n", "--resource-group", "-g", "--location", "-l", "--tags"},
    ("identity", "federated-credential", "create"): {
        "--name",
        "-n",
        "--resource-group",
        "-g",
        "--identity-name",
        "--issuer",
        "--subject",
        "--audiences",
        "--claims-matching-expression-version",
        "--cme-version",
        "--claims-matching-expression-value",
        "--cme-value",
    },
    ("identity", "federated-credential", "update"): {
        "--name",
        "-n",
        "--resource-group",
        "-g",
        "--identity-name",
        "--issuer",
        "--subject",
        "--audiences",
        "--claims-matching-expression-version",
        "--cme-version",
        "--claims-matching-expression-value",
        "--cme-value",
    },
    ("keyvault", "key", "create"): {
        "--name",
        "-n",
        "--vault-name",
        "--hsm-name",
        "--id",
        "--kty",
        "--size",
        "--ops",
        "--curve",
        "--protection",
        "-p",
        "--disabled",
        "--expires",
        "--not-before",
        "--exportable",
        "--policy",
        "--immutable",
        "--tags",
        "--default-cvm-policy",
    },
    ("keyvault", "key", "show"): {"--name", "-n", "--vault-name", "--hsm-name", "--id", "--version", "-v"},
    ("keyvault", "key", "set-attributes"): {
        "--name",
        "-n",
        "--vault-name",
        "--hsm-name",
        "--id",
        "--version",
        "-v",
        "--enabled",
        "--expires",
        "--not-before",
        "--ops",
        "--policy",
        "--immutable",
        "--tags",
    },
    ("keyvault", "key", "list-versions"): {"--name", "-n", "--vault-name", "--hsm-name", "--id", "--maxresults"},
    # fluxforge rotate-key (issue 20): azure-cli keyvault _params.py, `keyvault key rotate` context
    ("keyvault", "key", "rotate"): {"--name", "-n", "--vault-name", "--hsm-name", "--id"},
    ("keyvault", "set-policy"): {
        "--name",
        "-n",
        "--resource-group",
        "-g",
        "--object-id",
        "--spn",
        "--upn",
        "--application-id",
        "--key-permissions",
        "--secret-permissions",
        "--certificate-permissions",
        "--storage-permissions",
    },
    ("role", "assignment", "create"): {
        "--role",
        "--assignee",
        "--assignee-object-id",
        "--assignee-principal-type",
        "--scope",
        "--resource-group",
        "-g",
        "--description",
        "--condition",
        "--condition-version",
        "--name",
    },
    ("ad", "app", "credential", "reset"): {
        "--id",
        "--append",
        "--display-name",
        "--years",
        "--end-date",
        "--cert",
        "--create-cert",
        "--keyvault",
    },
    ("ad", "sp", "show"): {"--id"},
    # fluxforge azure bicep / plan / apply (issue 11): azure-cli resource, identity, keyvault, profile _params.py
    ("ad", "user", "show"): {"--id"},
    ("account", "list-locations"): {"--include-extended-locations"},
    ("group", "create"): {"--name", "-n", "--resource-group", "-g", "--location", "-l", "--tags", "--managed-by"},
    ("deployment", "group", "create"): {
        "--resource-group",
        "-g",
        "--template-file",
        "-f",
        "--template-uri",
        "-u",
        "--template-spec",
        "-s",
        "--parameters",
        "-p",
        "--name",
        "-n",
        "--mode",
        "--what-if",
        "-c",
        "--confirm-with-what-if",
        "--no-wait",
    },
    ("identity", "list"): {"--resource-group", "-g"},
    ("identity", "federated-credential", "delete"): {
        "--name",
        "-n",
        "--resource-group",
        "-g",
        "--identity-name",
        "--yes",
        "-y",
    },
    ("keyvault", "update"): {
        "--name",
        "-n",
        "--resource-group",
        "-g",
        "--enable-rbac-authorization",
        "--enable-purge-protection",
        "--public-network-access",
        "--default-action",
        "--bypass",
        "--retention-days",
    },
    # workloads (issue 13): the application vault, its secrets, the CSI driver add-on (keyvault, aks _params.py)
    ("keyvault", "create"): {
        "--name",
        "-n",
        "--resource-group",
        "-g",
        "--location",
        "-l",
        "--sku",
        "--enable-rbac-authorization",
        "--enable-purge-protection",
        "--retention-days",
        "--public-network-access",
        "--default-action",
        "--bypass",
        "--no-self-perms",
        "--tags",
    },
    ("keyvault", "secret", "set"): {
        "--name",
        "-n",
        "--vault-name",
        "--value",
        "--file",
        "-f",
        "--encoding",
        "-e",
        "--description",
        "--disabled",
        "--expires",
        "--not-before",
        "--content-type",
        "--tags",
    },
    ("keyvault", "secret", "set-attributes"): {
        "--name",
        "-n",
        "--vault-name",
        "--id",
        "--version",
        "-v",
        "--enabled",
        "--expires",
        "--not-before",
        "--content-type",
        "--tags",
    },
    ("keyvault", "certificate", "import"): {
        "--name",
        "-n",
        "--vault-name",
        "--file",
        "-f",
        "--password",
        "--policy",
        "-p",
        "--disabled",
        "--tags",
    },
    ("aks", "enable-addons"): {
        "--addons",
        "-a",
        "--name",
        "-n",
        "--resource-group",
        "-g",
        "--enable-secret-rotation",
        "--rotation-poll-interval",
        "--workspace-resource-id",
        "--no-wait",
    },
}

# what each command needs to run: every group must be met by one of its alternatives (a tuple of flags)
REQUIRED: dict[tuple[str, ...], list[list[tuple[str, ...]]]] = {
    ("aks", "show"): [[("-g",), ("--resource-group",)], [("-n",), ("--name",)]],
    ("aks", "update"): [[("-g",), ("--resource-group",)], [("-n",), ("--name",)]],
    ("identity", "show"): [[("-g", "-n"), ("--resource-group", "--name"), ("--ids",)]],
    ("identity", "create"): [[("--name",), ("-n",)], [("--resource-group",), ("-g",)]],
    ("identity", "federated-credential", "create"): [
        [("--name",), ("-n",)],
        [("--identity-name",)],
        [("--resource-group",), ("-g",)],
        [("--issuer",)],
        [("--subject",), ("--claims-matching-expression-value",)],
    ],
    ("identity", "federated-credential", "update"): [
        [("--name",), ("-n",)],
        [("--identity-name",)],
        [("--resource-group",), ("-g",)],
    ],
    ("keyvault", "key", "create"): [[("--name",), ("-n",)], [("--vault-name",), ("--hsm-name",)]],
    ("keyvault", "key", "show"): [[("--id",), ("--vault-name", "--name"), ("--vault-name", "-n")]],
    ("keyvault", "key", "set-attributes"): [[("--id",), ("--vault-name", "--name"), ("--vault-name", "-n")]],
    ("keyvault", "key", "list-versions"): [[("--id",), ("--vault-name", "--name"), ("--vault-name", "-n")]],
    ("keyvault", "key", "rotate"): [[("--id",), ("--vault-name", "--name"), ("--vault-name", "-n")]],
    ("keyvault", "set-policy"): [[("--name",), ("-n",)], [("--object-id",), ("--spn",), ("--upn",)]],
    ("role", "assignment", "create"): [[("--role",)], [("--assignee",), ("--assignee-object-id",)]],
    ("ad", "app", "credential", "reset"): [[("--id",)]],
    ("ad", "sp", "show"): [[("--id",)]],
    ("ad", "user", "show"): [[("--id",)]],
    ("group", "create"): [[("-n",), ("--name",), ("-g",), ("--resource-group",)], [("-l",), ("--location",)]],
    ("deployment", "group", "create"): [
        [("-g",), ("--resource-group",)],
        [("-f",), ("--template-file",), ("-u",), ("--template-uri",)],
    ],
    ("identity", "federated-credential", "delete"): [
        [("--name",), ("-n",)],
        [("--identity-name",)],
        [("--resource-group",), ("-g",)],
    ],
    ("keyvault", "update"): [[("--name",), ("-n",)]],
    ("keyvault", "create"): [[("--name",), ("-n",)], [("--resource-group",), ("-g",)]],
    ("keyvault", "secret", "set"): [[("--vault-name",)], [("--name",), ("-n",)], [("--value",), ("--file",), ("-f",)]],
    ("keyvault", "secret", "set-attributes"): [[("--id",), ("--vault-name", "--name"), ("--vault-name", "-n")]],
    ("keyvault", "certificate", "import"): [[("--vault-name",)], [("--name",), ("-n",)], [("--file",), ("-f",)]],
    ("aks", "enable-addons"): [[("--addons",), ("-a",)], [("--name",), ("-n",)], [("--resource-group",), ("-g",)]],
}

_COMMAND = re.compile(r"\baz ((?:[a-z][a-z-]* ?)+)(.*)")
_END = re.compile(r"[;)`\"\n]| \(|, | or |\. |\.$")


def commands(text: str) -> list[tuple[tuple[str, ...], list[str], str]]:
    """(command words, flags, the hint as written) for every ``az`` command in ``text``."""
    found = []
    for line in text.splitlines():
        for match in _COMMAND.finditer(line):
            words, rest = match.group(1).split(), match.group(2)
            # the longest known command the words start with; prose may follow a command without flags
            known = next((n for n in range(len(words), 0, -1) if tuple(words[:n]) in AZ), len(words))
            words, rest = words[:known], " ".join([*words[known:], rest])
            rest = re.sub(r'(?<= )"[^"\n]*"', "VALUE", rest)  # a quoted argument value ("Key Vault Crypto User")
            end = _END.search(rest)
            args = rest[: end.start()] if end else rest
            flags = [token.split("=")[0] for token in args.split() if token.startswith("-") and token != "-"]
            found.append((tuple(words), flags, f"az {' '.join(words)} {args}".strip()))
    return found


def problems(text: str, *, complete: bool = True) -> list[str]:
    """Unknown commands and arguments; with ``complete``, also commands missing a required argument
    (the hints users copy; documents only mention commands, so they are checked for names only)."""
    wrong = []
    for words, flags, hint in commands(text):
        allowed = AZ.get(words)
        if allowed is None:
            wrong.append(f"unknown command az {' '.join(words)}: {hint}")
            continue
        wrong += [f"az {' '.join(words)} takes no {flag}: {hint}" for flag in flags if flag not in allowed | GLOBAL]
        for group in REQUIRED.get(words, []) if complete else []:
            if not any(set(option) <= set(flags) for option in group):
                wrong.append(f"az {' '.join(words)} needs {' or '.join(' '.join(o) for o in group)}: {hint}")
    return wrong


# --- where users meet the hints -------------------------------------------------------------------


def _ctx() -> gates.Context:
    return gates.Context(
        "decrypt",
        "https://kv.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef",
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
        {
            "iss": "https://issuer.example/",
            "sub": "system:serviceaccount:flux-system:kustomize-controller",
            "aud": ["api://AzureADTokenExchange"],
        },
    )


ENTRA_CODES = ["70021", "700211", "700212", "700213", "700016", "90002", "7000215", "700024", "700027", "90061", "1"]


def error_hints() -> list[str]:
    ctx = _ctx()
    texts = [gates.explain_entra(f"AADSTS{code}: refused. Trace ID: x", ctx) for code in ENTRA_CODES]
    texts += [
        gates.explain_forbidden(
            "Caller is not authorized. Action: 'Microsoft.KeyVault/vaults/keys/decrypt/action' "
            "Resource: '/subscriptions/s/resourcegroups/g/providers/microsoft.keyvault/vaults/kv/keys/k'",
            ctx,
            "ForbiddenByRbac",
        ),
        gates.explain_forbidden("The user does not have keys decrypt permission on key vault; access policy", ctx),
        gates.explain_forbidden("Operation decrypt is not allowed on this key.", ctx, "KeyOperationForbidden"),
        gates.explain_vault(401, "Unauthorized", "AKV10022: Invalid audience.", ctx),
        gates.explain_vault(401, "Unauthorized", "AKV10032: Invalid issuer.", ctx),
        gates.explain_vault(404, "KeyNotFound", "A key with (name/id) k was not found", ctx),
        gates.explain_vault(429, "Throttled", "slow down", ctx),
        gates.explain_tenant("AKV10032: tokens for tenant 'aaaa' only", ctx),
        gates.explain_unavailable("DefaultAzureCredential failed", ctx),
        gates.explain_network("connection refused", ctx),
    ]
    return texts


def rendered_hints() -> list[str]:
    lockdown = SAMPLE.replace(
        "  namespace: flux-system\n", "  namespace: flux\n  defaultDecryptionServiceAccount: sops\n", 1
    )
    no_names = SAMPLE.replace("\n      name: id-flux-staging\n", "\n").replace(
        "\n      resourceGroup: rg-fleet-staging\n", "\n"
    )
    return [data.decode() for text in (SAMPLE, lockdown, no_names) for data in render_tree(parse_config(text)).values()]


def document_hints() -> list[str]:
    files = [
        REPO_ROOT / "README.md",
        REPO_ROOT / "schemas" / "config.schema.json",
        *sorted((REPO_ROOT / "docs").glob("*.md")),
    ]
    return [path.read_text(encoding="utf-8") for path in files]


def starter_hints() -> list[str]:
    return [render_starter(StarterValues()).decode(), render_starter(StarterValues(cluster="qa")).decode()]


def bicep_hints() -> list[str]:
    from generator.azure.bicep import render_bicep
    from generator.azure.desired import desired_state

    return [data.decode() for data in render_bicep(desired_state(parse_config(SAMPLE))).values()]


def doctor_hints() -> list[str]:
    """The fixes fluxforge doctor prints (every az builder it uses, with sample values)."""
    from generator import az_hints as hints

    kid = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv/keys/k"
    return [
        hints.identity_create(name="id-flux", resource_group="rg"),
        hints.federated_credential_update(
            name="n",
            identity_name="id",
            resource_group="rg",
            issuer="https://i/",
            subject="system:serviceaccount:flux-system:kustomize-controller",
        ),
        hints.role_assignment_create("Key Vault Crypto User", "0000", kid),
        hints.keyvault_set_policy_decrypt("kv", "0000"),
        hints.keyvault_enable_rbac("kv"),
        hints.keyvault_key_set_attributes("kv", "k", "v1", "--enabled true"),
        hints.keyvault_key_set_attributes("kv", "k", "", "--ops encrypt decrypt"),
        hints.keyvault_key_create("kv", "k"),
        hints.keyvault_key_list_versions("kv", "k"),
        hints.aks_enable_workload_identity("rg", "aks"),
        hints.aks_enable_workload_identity(),
    ]


SOURCES = {
    "errors": error_hints,
    "rendered": rendered_hints,
    "starter": starter_hints,
    "documents": document_hints,
    "bicep": bicep_hints,
    "doctor": doctor_hints,
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_az_hint_runs(source: str) -> None:
    texts = SOURCES[source]()
    found = [c for text in texts for c in commands(text)]
    assert found, f"no az hint found in {source}: the collector is broken"
    assert [p for text in texts for p in problems(text, complete=source != "documents")] == []


def test_the_hints_cover_the_commands_users_need() -> None:
    seen = {words for source in SOURCES.values() for text in source() for words, _, _ in commands(text)}
    assert {
        ("identity", "federated-credential", "create"),
        ("role", "assignment", "create"),
        ("keyvault", "set-policy"),
        ("aks", "show"),
        ("keyvault", "key", "create"),
    } <= seen
    fic = [
        hint
        for text in rendered_hints()
        for words, _, hint in commands(text)
        if words[1:2] == ("federated-credential",)
    ]
    assert fic and all("--audiences api://AzureADTokenExchange" in hint for hint in fic)


@pytest.mark.parametrize(
    ("hint", "problem"),
    [
        (
            "az identity federated-credential create --name x --audience api://AzureADTokenExchange",
            "takes no --audience",
        ),
        ("run az keyvault key create --vault-name v --name k --key-type RSA.", "takes no --key-type"),
        ("az keyvault key rotate-now --name k", "unknown command"),
        ("check it (az keyvault key show)", "needs --id or --vault-name --name"),
        ("az aks show --query oidcIssuerProfile.issuerUrl -o tsv", "needs -g or --resource-group"),
        ("az identity federated-credential update --audiences api://AzureADTokenExchange", "needs --name or -n"),
    ],
)
def test_the_checker_catches_a_wrong_hint(hint: str, problem: str) -> None:
    assert any(problem in p for p in problems(hint))


def source_strings() -> list[str]:
    """Every string literal in generator/ (adjacent literals joined, f-string fields as <x>): hints built
    anywhere in the code, including messages only reachable through the Azure SDK."""
    texts = []
    for path in sorted((REPO_ROOT / "generator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                texts.append("".join(v.value if isinstance(v, ast.Constant) else "<x>" for v in node.values))
    return texts


def test_every_az_hint_in_the_source_runs() -> None:
    texts = source_strings()
    found = {words for text in texts for words, _, _ in commands(text)}
    assert {
        ("keyvault", "key", "set-attributes"),
        ("keyvault", "key", "create"),
        ("ad", "app", "credential", "reset"),
        ("identity", "federated-credential", "create"),
    } <= found
    assert [p for text in texts for p in problems(text, complete=False)] == []

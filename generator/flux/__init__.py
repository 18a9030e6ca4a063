"""What fluxforge knows about Flux and AKS: versions, gotk-components, migrations, the upgrade lint,
kustomize references, workload-identity federation."""

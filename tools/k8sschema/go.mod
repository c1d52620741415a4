module github.com/spacefleet/spacefleet/tools/k8sschema

go 1.26

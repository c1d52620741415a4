module spacefleet.local/kind-node/runc-capfix

go 1.24.0

module spacefleet.local/kind-node/pause

go 1.24.0

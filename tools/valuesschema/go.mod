module github.com/spacefleet/spacefleet/tools/valuesschema

go 1.26

# The spacefleet server (cmd/spacefleet, internal/...) and its image (images/app/).
APP_VERSION ?= 0.1.0
APP_IMAGE   ?= spacefleet/spacefleet:$(APP_VERSION)
APP_BIN     ?= bin/spacefleet
APP_STAGE   := .build/app-image
PG_BINDIR   ?= /usr/lib/postgresql/15/bin
CA_BUNDLE   ?= /etc/ssl/certs/ca-certificates.crt

.PHONY: build image test-app postgres-server

build: ## build bin/spacefleet: static (CGO_ENABLED=0), -trimpath
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/spacefleet/spacefleet/internal/metrics.Version=$(APP_VERSION)" -o $(APP_BIN) ./cmd/spacefleet
	@ls -l $(APP_BIN)

image: build ## build the app image spacefleet/spacefleet:<APP_VERSION> FROM scratch with docker (needs dockerd: runs scripts/ensure-docker.sh)
	@if [ -x scripts/ensure-docker.sh ]; then scripts/ensure-docker.sh; \
	elif ! docker info >/dev/null 2>&1; then \
		echo "make image: no running Docker daemon and no scripts/ensure-docker.sh to start one; start dockerd and retry" >&2; exit 1; fi
	@[ -s $(CA_BUNDLE) ] || CACHE=$(CACHE) scripts/apt-install.sh ca-certificates
	rm -rf $(APP_STAGE) && mkdir -p $(APP_STAGE)/rootfs/etc/ssl/certs $(APP_STAGE)/rootfs/tmp
	chmod 1777 $(APP_STAGE)/rootfs/tmp
	cp $(APP_BIN) $(APP_STAGE)/rootfs/spacefleet
	cp $(CA_BUNDLE) $(APP_STAGE)/rootfs/etc/ssl/certs/ca-certificates.crt
	cp images/app/passwd images/app/group $(APP_STAGE)/rootfs/etc/
	docker build -f images/app/Dockerfile --build-arg APP_VERSION=$(APP_VERSION) -t $(APP_IMAGE) $(APP_STAGE)
	@docker images $(APP_IMAGE)

postgres-server: ## install Debian's postgresql-15 server binaries for the tests (only if $(PG_BINDIR)/postgres is missing)
	@[ -x $(PG_BINDIR)/postgres ] || CACHE=$(CACHE) scripts/apt-install.sh postgresql-15
	@$(PG_BINDIR)/postgres --version

test-app: postgres-server ## go vet + go test ./cmd/... ./internal/... against real PostgreSQL servers the tests start
	go vet ./cmd/... ./internal/...
	PGTEST_BINDIR=$(PG_BINDIR) go test -count=1 ./cmd/... ./internal/...

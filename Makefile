# Formation — build, run and test the csidriver CSI plugin.
DOTNET      ?= dotnet
OUT         := out/csidriver
BIN         := $(OUT)/csidriver
DEMO_BIN    := out/demo/formation-demo
RUN_DIR     ?= $(CURDIR)/.run
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: build build-demo run test test-deps sanity bench clean demo

## build: publish the csidriver executable to out/csidriver/csidriver
build:
	$(DOTNET) publish src/CsiDriver/CsiDriver.csproj -c Release -o $(OUT) --nologo -v quiet

## build-demo: publish the demonstration (not part of the driver) to out/demo/formation-demo
build-demo:
	$(DOTNET) publish tests/CsiDriver.Demo/CsiDriver.Demo.csproj -c Release -o $(dir $(DEMO_BIN)) --nologo -v quiet

## run: build and serve on an embedded default data directory under .run/
run: build
	@mkdir -p $(RUN_DIR)/data
	@echo "data directory: $(RUN_DIR)/data"
	@echo "CSI endpoint:   unix://$(RUN_DIR)/csi.sock"
	@echo "csi-addons:     unix://$(RUN_DIR)/csi-addons.sock"
	$(BIN) serve --endpoint unix://$(RUN_DIR)/csi.sock --csiaddons-endpoint unix://$(RUN_DIR)/csi-addons.sock \
	  --node-id $$(hostname) --data-dir $(RUN_DIR)/data

## test: install what the tests need, build, run every test project
test: test-deps build build-demo
	tests/scripts/run-tests.sh

test-deps:
	tests/scripts/install-deps.sh

## sanity: run the csi-sanity conformance tool against a fresh driver, alone (single mode) and
## as a cluster node beside `csidriver controller` (split mode)
sanity: build
	tests/scripts/sanity.sh single
	tests/scripts/sanity.sh split

clean:
	rm -rf $(OUT) $(dir $(DEMO_BIN)) $(RUN_DIR)
	$(DOTNET) clean --nologo -v quiet

## bench: side-by-side benchmarks printing ratios and a PASS / FALL SHORT verdict per goal;
## exits non-zero when a goal is missed unless REPORT_ONLY=1 (ONLY=name to pick some)
bench: test-deps build
	$(DOTNET) run --project tests/CsiDriver.Benchmarks -c Release -- $(ONLY) $(if $(REPORT_ONLY),--report-only)

## demo: the whole story on this machine (two sites, a shop, replication, a disaster) in
## under 3 minutes; PASS or FAIL, report in .run/demo/report.html (DEMO_ARGS="--keep" etc.)
demo: test-deps build build-demo
	$(DEMO_BIN) --csidriver $(BIN) --output $(RUN_DIR)/demo $(DEMO_ARGS)

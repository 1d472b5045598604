/**
 * The monitoring team's Grafana dashboards, built in code with Grafana's foundation SDK and
 * shipped in the Helm chart (charts/mutualis/dashboards, as ConfigMaps for Grafana's sidecar).
 * Every query reads a metric the operator or the service kit exports.
 */
import { DashboardBuilder, DatasourceVariableBuilder, QueryVariableBuilder, RowBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeSeriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";

const datasource = { type: "prometheus", uid: "${datasource}" };

function query(expr: string, legend: string) {
  return new DataqueryBuilder().expr(expr).legendFormat(legend).datasource(datasource);
}

function series(title: string, description: string, unit: string, targets: [string, string][], width = 12) {
  const panel = new TimeSeriesPanel().title(title).description(description).unit(unit).datasource(datasource).height(8).span(width);
  for (const [expr, legend] of targets) panel.withTarget(query(expr, legend));
  return panel;
}

function stat(title: string, description: string, expr: string, unit = "none", width = 6) {
  return new StatPanel().title(title).description(description).unit(unit).datasource(datasource).height(4).span(width).withTarget(query(expr, title));
}

const promDatasource = () => new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus");

/** Platform health: the operator's reconciles, errors and work queue, tenants ready, the services' latency and errors. */
export function platformDashboard() {
  return new DashboardBuilder("Mutualis — platform health")
    .uid("mutualis-platform")
    .description("The operator, the tenants and the services of the Mutualis platform.")
    .tags(["mutualis", "operator", "services"])
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .timezone("browser")
    .withVariable(promDatasource())
    .withRow(new RowBuilder("Operator"))
    .withPanel(stat("Leading replicas", "Replicas holding the leader Lease: exactly 1 when healthy.", "sum(leader_election_master_status)"))
    .withPanel(stat("Collectivities not Ready", "Collectivities whose Ready condition is not True.", 'sum(max without (instance, pod) (mutualis_collectivities{condition="Ready", status!="True"})) or vector(0)'))
    .withPanel(stat("Reconcile errors (1 h)", "Reconciles that failed and were retried, last hour.", "sum(increase(controller_runtime_reconcile_errors_total[1h]))"))
    .withPanel(stat("Work queue", "Items waiting to be reconciled, all controllers.", "sum(workqueue_depth)"))
    .withPanel(series("Reconciles", "Reconciles per second, by controller and result.", "ops", [["sum by (controller, result) (rate(controller_runtime_reconcile_total[$__rate_interval]))", "{{controller}} {{result}}"]]))
    .withPanel(series("Reconcile errors", "Failed reconciles per second, by controller.", "ops", [["sum by (controller) (rate(controller_runtime_reconcile_errors_total[$__rate_interval]))", "{{controller}}"]]))
    .withPanel(
      series("Reconcile duration (p50, p99)", "Time a reconcile takes, by controller.", "s", [
        ["histogram_quantile(0.5, sum by (le, controller) (rate(controller_runtime_reconcile_time_seconds_bucket[$__rate_interval])))", "p50 {{controller}}"],
        ["histogram_quantile(0.99, sum by (le, controller) (rate(controller_runtime_reconcile_time_seconds_bucket[$__rate_interval])))", "p99 {{controller}}"],
      ]),
    )
    .withPanel(series("Work queue depth", "Items waiting, by queue: a queue that only grows is a backlog.", "none", [["max by (name) (workqueue_depth)", "{{name}}"]]))
    .withPanel(series("API server requests", "The operator's requests to the API server per second, by method and status code.", "reqps", [["sum by (method, code) (rate(rest_client_requests_total[$__rate_interval]))", "{{method}} {{code}}"]]))
    .withRow(new RowBuilder("Tenants"))
    .withPanel(series("Collectivities by Ready condition", "Collectivities, by the status and reason of their Ready condition.", "none", [['sum by (status, reason) (max without (instance, pod) (mutualis_collectivities{condition="Ready"}))', "{{status}} {{reason}}"]]))
    .withPanel(series("Tenants per hosting zone", "Collectivities per zone of the sovereign cloud.", "none", [["sum by (zone) (max without (instance, pod) (mutualis_tenants))", "{{zone}}"]]))
    .withRow(new RowBuilder("Services"))
    .withPanel(series("HTTP requests", "Requests per second, by service.", "reqps", [["sum by (service) (rate(http_request_duration_seconds_count[$__rate_interval]))", "{{service}}"]], 8))
    // Error panels draw every route (every collectivity) at zero rather than "No data" when nothing fails.
    .withPanel(series("HTTP errors (5xx)", "Server errors per second, by service and route.", "reqps", [['sum by (service, route) (rate(http_request_duration_seconds_count{status_code=~"5.."}[$__rate_interval])) or sum by (service, route) (rate(http_request_duration_seconds_count[$__rate_interval])) * 0', "{{service}} {{route}}"]], 8))
    .withPanel(series("HTTP latency (p99)", "99th percentile of request duration, by service.", "s", [["histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[$__rate_interval])))", "{{service}}"]], 8))
    .withPanel(series("NATS requests by outcome", "Service requests over NATS per second, by service and outcome (ok, rejected, error).", "reqps", [["sum by (service, outcome) (rate(nats_request_duration_seconds_count[$__rate_interval]))", "{{service}} {{outcome}}"]]))
    .withPanel(series("NATS latency (p99)", "99th percentile of NATS request handling, by service and endpoint.", "s", [["histogram_quantile(0.99, sum by (le, service, endpoint) (rate(nats_request_duration_seconds_bucket[$__rate_interval])))", "{{service}} {{endpoint}}"]]))
    .withRow(new RowBuilder("Per tenant"))
    .withPanel(series("Tenants with the most errors", "Requests made for a collectivity that failed on the platform's side (HTTP 5xx, NATS errors), per second: the ten collectivities with the most.", "reqps", [['topk(10, sum by (collectivity) (rate(mutualis_tenant_request_duration_seconds_count{outcome="error"}[$__rate_interval])) or sum by (collectivity) (rate(mutualis_tenant_request_duration_seconds_count[$__rate_interval])) * 0)', "{{collectivity}}"]]))
    .withPanel(series("Slowest tenants (p99)", "99th percentile of the duration of requests made for a collectivity: the ten slowest collectivities.", "s", [["topk(10, histogram_quantile(0.99, sum by (le, collectivity) (rate(mutualis_tenant_request_duration_seconds_bucket[$__rate_interval]))))", "{{collectivity}}"]]));
}

/** One collectivity at a time: its business activity in every service. */
export function tenantDashboard() {
  return new DashboardBuilder("Mutualis — per collectivity")
    .uid("mutualis-tenant")
    .description("What one collectivity does on the platform: acts, secure exchanges, service errors.")
    .tags(["mutualis", "tenants"])
    .refresh("1m")
    .time({ from: "now-24h", to: "now" })
    .timezone("browser")
    .withVariable(promDatasource())
    .withVariable(
      new QueryVariableBuilder("collectivity")
        .label("Collectivity")
        .datasource(datasource)
        .query('label_values({__name__=~"mutualis_.+_total"}, collectivity)')
        .definition('label_values({__name__=~"mutualis_.+_total"}, collectivity)'),
    )
    .withPanel(series("Business activity", "Each business counter of the services for this collectivity, per minute.", "none", [
      // rate() drops the metric's name, and counters told apart by their name alone would collide
      // ("vector cannot contain metrics with the same labelset"): the name goes to a label first.
      ['sum by (counter) (rate(label_replace({__name__=~"mutualis_.+_total", collectivity="$collectivity"}, "counter", "$1", "__name__", "(.+)")[$__rate_interval:])) * 60', "{{counter}}"],
    ], 24))
    .withPanel(series("Acts sent to the prefecture", "Acts submitted per hour.", "none", [['sum(increase(mutualis_actes_submitted_total{collectivity="$collectivity"}[1h]))', "acts"]]))
    .withPanel(series("Secure exchange volume", "Bytes uploaded into shares per hour.", "bytes", [['sum(increase(mutualis_sesf_bytes_uploaded_total{collectivity="$collectivity"}[1h]))', "bytes"]]))
    .withPanel(series("Requests by outcome", "Requests made for this collectivity per second, by service and outcome (ok, rejected: the caller's mistake, error: the platform's).", "reqps", [['sum by (service, outcome) (rate(mutualis_tenant_request_duration_seconds_count{collectivity="$collectivity"}[$__rate_interval]))', "{{service}} {{outcome}}"]]))
    .withPanel(series("Latency (p50, p99)", "Duration of requests made for this collectivity, by service.", "s", [
      ['histogram_quantile(0.5, sum by (le, service) (rate(mutualis_tenant_request_duration_seconds_bucket{collectivity="$collectivity"}[$__rate_interval])))', "p50 {{service}}"],
      ['histogram_quantile(0.99, sum by (le, service) (rate(mutualis_tenant_request_duration_seconds_bucket{collectivity="$collectivity"}[$__rate_interval])))', "p99 {{service}}"],
    ]));
}

/** File name → dashboard JSON, as the chart ships them. */
export function dashboards(): Map<string, string> {
  return new Map([
    ["mutualis-platform.json", JSON.stringify(platformDashboard().build(), null, 2) + "\n"],
    ["mutualis-tenant.json", JSON.stringify(tenantDashboard().build(), null, 2) + "\n"],
  ]);
}

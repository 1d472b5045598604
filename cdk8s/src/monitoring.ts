/**
 * What Prometheus does with Mutualis, in one place: the alerting rules (the chart's
 * PrometheusRule and the hosting lot's Prometheus load the same), and how pods announcing
 * themselves with prometheus.io/* annotations are scraped (the lot's Prometheus and the local
 * platform's use the same relabelling).
 */

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: "warning" | "critical" };
  readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

export interface OperatorAlertSettings {
  /** Minutes a collectivity may stay not Ready before the alert fires. */
  readonly tenantNotReadyMinutes: number | string;
  /** Items waiting in a work queue, for 10 minutes, that make a backlog. */
  readonly workQueueBacklog: number | string;
  /** Where the operator runs (its Lease is there). */
  readonly namespace: string;
}

const operatorJob = 'job=~".*mutualis.*"';

/** The operator's alerts: reconcile errors, a tenant not Ready, a work-queue backlog, no leader. */
export function operatorAlerts(settings: OperatorAlertSettings): RuleGroup {
  return {
    name: "mutualis-operator",
    rules: [
      {
        alert: "MutualisReconcileErrors",
        expr: `sum by (controller) (rate(controller_runtime_reconcile_errors_total{${operatorJob}}[10m])) > 0.1`,
        for: "10m",
        labels: { severity: "warning" },
        annotations: {
          summary: "The {{ $labels.controller }} controller keeps failing",
          description: "More than one reconcile error every 10 s for 10 minutes: see the operator's logs and the resources' events.",
        },
      },
      {
        alert: "MutualisTenantNotReady",
        expr: 'max(mutualis_collectivities{condition="Ready", status!="True"}) > 0',
        for: `${settings.tenantNotReadyMinutes}m`,
        labels: { severity: "warning" },
        annotations: {
          summary: `A collectivity has not been Ready for ${settings.tenantNotReadyMinutes} minutes`,
          description: "kubectl get collectivities shows which, and its Ready condition says why.",
        },
      },
      {
        alert: "MutualisWorkQueueBacklog",
        expr: `max by (name) (workqueue_depth{${operatorJob}}) > ${settings.workQueueBacklog}`,
        for: "10m",
        labels: { severity: "warning" },
        annotations: {
          summary: "The {{ $labels.name }} work queue holds a backlog",
          description: `More than ${settings.workQueueBacklog} items waiting for 10 minutes: the operator cannot keep up.`,
        },
      },
      {
        alert: "MutualisLeaderMissing",
        expr: `max(leader_election_master_status{${operatorJob}}) < 1 or absent(leader_election_master_status{${operatorJob}})`,
        for: "5m",
        labels: { severity: "critical" },
        annotations: {
          summary: "No Mutualis operator replica leads",
          description: `Nothing reconciles tenants: check the operator's pods and its Lease in ${settings.namespace}.`,
        },
      },
    ],
  };
}

/** The platform's own alerts: its services answering with errors, or gone from their scrapes. */
export function platformAlerts(): RuleGroup {
  return {
    name: "mutualis-platform",
    rules: [
      {
        alert: "MutualisServiceDown",
        expr: 'sum by (service) (up{job="mutualis-pods", service!=""}) == 0',
        for: "5m",
        labels: { severity: "critical" },
        annotations: {
          summary: "No pod of the {{ $labels.service }} service answers",
          description: "Prometheus reaches none of the service's pods: collectivities using it are cut off.",
        },
      },
      {
        alert: "MutualisServiceErrors",
        expr: 'sum by (service) (rate(http_request_duration_seconds_count{status_code=~"5.."}[10m])) / sum by (service) (rate(http_request_duration_seconds_count[10m])) > 0.05',
        for: "10m",
        labels: { severity: "warning" },
        annotations: {
          summary: "The {{ $labels.service }} service fails more than 5% of its requests",
          description: "See the service's logs: they name the route and the error, never a link or a secret.",
        },
      },
    ],
  };
}

const annotation = (name: string) => `__meta_kubernetes_pod_annotation_prometheus_io_${name}`;

/**
 * How a pod announcing prometheus.io/scrape is scraped: at its address on the annotated port
 * and path, labelled with its namespace, pod and service. `nodes` keeps only pods of those
 * nodes (the local platform, whose other nodes only pretend to run their pods).
 */
export interface RelabelConfig {
  readonly source_labels: readonly string[];
  readonly regex?: string;
  readonly action?: string;
  readonly target_label?: string;
  readonly replacement?: string;
}

export function podScrapeRelabelling(nodes?: readonly string[]): RelabelConfig[] {
  return [
    { source_labels: [annotation("scrape")], regex: "true", action: "keep" },
    ...(nodes ? [{ source_labels: ["__meta_kubernetes_pod_node_name"], regex: nodes.join("|"), action: "keep" }] : []),
    { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
    { source_labels: [annotation("path")], regex: "(.+)", target_label: "__metrics_path__" },
    { source_labels: ["__meta_kubernetes_pod_ip", annotation("port")], regex: "(.+);(.+)", replacement: "$1:$2", target_label: "__address__" },
    { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
    { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
    { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], target_label: "service" },
  ];
}

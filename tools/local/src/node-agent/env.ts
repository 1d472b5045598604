/** A pod's container, as far as its environment goes. */
export interface EnvContainer {
  env?: {
    name: string;
    value?: string;
    valueFrom?: {
      secretKeyRef?: { name: string; key: string; optional?: boolean };
      configMapKeyRef?: { name: string; key: string; optional?: boolean };
      fieldRef?: { fieldPath: string };
    };
  }[];
  envFrom?: { prefix?: string; secretRef?: { name: string; optional?: boolean }; configMapRef?: { name: string; optional?: boolean } }[];
}

/** Reads the namespace's Secrets and ConfigMaps: data decoded, undefined when absent. */
export interface SourceLookup {
  secret(name: string): Promise<Record<string, string> | undefined>;
  configMap(name: string): Promise<Record<string, string> | undefined>;
}

/** The kubelet's reason for a container it cannot configure. */
export class ConfigurationError extends Error {
  override name = "ConfigurationError";
  readonly reason = "CreateContainerConfigError";
}

/**
 * The container's environment as the kubelet builds it: `envFrom` first, then `env` in order
 * (later entries win), with `$(VAR)` references to earlier variables expanded. A missing
 * Secret, ConfigMap or key fails unless marked optional, with the kubelet's message.
 */
export async function resolveEnv(container: EnvContainer, fields: Record<string, string>, lookup: SourceLookup): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const ref = source.secretRef ?? source.configMapRef;
    if (!ref) continue;
    const kind = source.secretRef ? "secret" : "configmap";
    const data = source.secretRef ? await lookup.secret(ref.name) : await lookup.configMap(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new ConfigurationError(`${kind} "${ref.name}" not found`);
    }
    for (const [key, value] of Object.entries(data)) env[`${source.prefix ?? ""}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expand(variable.value ?? "", env);
      continue;
    }
    const keyRef = from.secretKeyRef ?? from.configMapKeyRef;
    if (keyRef) {
      const kind = from.secretKeyRef ? "secret" : "configmap";
      const data = from.secretKeyRef ? await lookup.secret(keyRef.name) : await lookup.configMap(keyRef.name);
      const value = data?.[keyRef.key];
      if (value === undefined) {
        if (keyRef.optional) continue;
        throw new ConfigurationError(data ? `couldn't find key ${keyRef.key} in ${kind} "${keyRef.name}"` : `${kind} "${keyRef.name}" not found`);
      }
      env[variable.name] = value;
    } else if (from.fieldRef) {
      const value = fields[from.fieldRef.fieldPath];
      if (value === undefined) throw new ConfigurationError(`unsupported fieldRef ${from.fieldRef.fieldPath}`);
      env[variable.name] = value;
    }
  }
  return env;
}

/** `$(NAME)` → NAME's value when defined; `$$(NAME)` → `$(NAME)`, as the kubelet does. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && env[name] !== undefined ? env[name] : match;
  });
}

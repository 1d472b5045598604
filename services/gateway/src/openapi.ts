/** The gateway's API, described once (OpenAPI 3.1) and served at /api/v1/openapi.json. */
export function openApiDocument(serverUrl: string) {
  const tenant = { name: "tenant", in: "path", required: true, description: "The collectivity's name, as in its Collectivity resource.", schema: { type: "string" } };
  const error = { description: "An error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
  const errors = { "400": error, "401": error, "403": error, "404": error, "503": error };
  return {
    openapi: "3.1.0",
    info: {
      title: "Mutualis gateway",
      version: "0.1.0",
      description:
        "HTTP access to the platform's services for collectivities' agents. Every call carries a bearer token naming the caller and their collectivity; a token for one collectivity never reaches another's services.",
    },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error", "message"],
          properties: { error: { type: "string" }, message: { type: "string" }, details: { type: "array", items: { type: "string" } } },
        },
        ServiceInstanceRequest: {
          type: "object",
          required: ["name", "service"],
          properties: {
            name: { type: "string" },
            service: { type: "string", enum: ["actes", "helios", "parapheur", "marketplace", "sesf", "ipl", "invoices", "identity", "flows"] },
            plan: { type: "string", enum: ["small", "standard", "large"] },
            tenancy: { type: "string", enum: ["shared", "dedicated"] },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/api/v1/tenants/{tenant}/{service}/{operation}": {
        parameters: [
          tenant,
          { name: "service", in: "path", required: true, description: "A service of the catalogue, e.g. actes.", schema: { type: "string" } },
          { name: "operation", in: "path", required: true, description: "The service's operation, e.g. submit, get, list, cancel.", schema: { type: "string" } },
        ],
        get: { summary: "Call a read operation; query parameters are its input", responses: { "200": { description: "The operation's answer" }, ...errors } },
        post: {
          summary: "Call an operation with a JSON body",
          requestBody: { content: { "application/json": { schema: { type: "object" } } } },
          responses: { "200": { description: "The operation's answer" }, ...errors },
        },
      },
      "/api/v1/tenants/{tenant}/service-instances": {
        parameters: [tenant],
        get: { summary: "List the collectivity's service instances (as the caller, through Kubernetes RBAC)", responses: { "200": { description: "ServiceInstances" }, ...errors } },
        post: {
          summary: "Request a service instance (as the caller, through Kubernetes RBAC)",
          requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/ServiceInstanceRequest" } } } },
          responses: { "201": { description: "The ServiceInstance created" }, ...errors },
        },
      },
      "/api/v1/tenants/{tenant}/service-instances/{name}": {
        parameters: [tenant, { name: "name", in: "path", required: true, schema: { type: "string" } }],
        delete: { summary: "Remove a service instance (as the caller, through Kubernetes RBAC)", responses: { "200": { description: "Deleted" }, ...errors } },
      },
    },
  };
}

import { describe, expect, it } from "vitest";
import { parseRoute } from "./ingress.ts";

describe("parseRoute", () => {
  it("when a route names a port, a namespace, a Service's selector and a target port, then it is read whole", () => {
    expect(parseRoute("16085=mutualis-system/app.kubernetes.io/name=observatory,app.kubernetes.io/instance=shared:8080")).toEqual({
      host: "127.0.0.1",
      port: 16085,
      namespace: "mutualis-system",
      selector: "app.kubernetes.io/name=observatory,app.kubernetes.io/instance=shared",
      targetPort: 8080,
    });
  });

  it.each(["", "16085", "16085=mutualis-system:8080", "x=ns/app=a:80", "16085=ns/app=a"])("when the route is %j, then it is refused with the expected form", (text) => {
    expect(() => parseRoute(text)).toThrow(/is not <port>=<namespace>\/<label selector>:<target port>/);
  });
});

import { describe, expect, it } from "vitest";
import { Conflict, Forbidden, Gone, InvalidRequest, NotFound, PayloadTooLarge, publicBody, statusOf, TooManyRequests, Unauthorized, Unavailable } from "./errors.ts";

describe("statusOf", () => {
  it.each([
    [new InvalidRequest("x"), 400],
    [new Unauthorized("x"), 401],
    [new Forbidden("x"), 403],
    [new NotFound("x"), 404],
    [new Conflict("x"), 409],
    [new Gone("x"), 410],
    [new PayloadTooLarge("x"), 413],
    [new Unavailable("x"), 503],
    [new Error("boom"), 500],
  ])("when the error is %s, then the status is %i", (error, status) => {
    expect(statusOf(error)).toBe(status);
  });
});

describe("publicBody", () => {
  it("when the error is unexpected, then the caller learns nothing of its message", () => {
    expect(publicBody(new Error("password=hunter2 in connection string"))).toEqual({
      error: "InternalError",
      message: "an unexpected error occurred; it has been logged",
    });
  });

  it("when the error is known, then its name, message and details are given", () => {
    expect(publicBody(new InvalidRequest("the act is invalid", { details: ["nature: must be 1 to 6"] }))).toEqual({
      error: "InvalidRequest",
      message: "the act is invalid",
      details: ["nature: must be 1 to 6"],
    });
  });
});

describe("what a caller is told of a failure", () => {
  it("when a dependency fails with an internal address in its message, then the caller gets the public message and never the cause", () => {
    const failure = new Unavailable("the database cannot be reached", { cause: new Error("connect ECONNREFUSED 10.42.0.17:27017") });
    expect(publicBody(failure)).toEqual({ error: "Unavailable", message: "the database cannot be reached" });
    expect(JSON.stringify(publicBody(failure))).not.toContain("10.42.0.17");
    expect(publicBody(new Error("getaddrinfo ENOTFOUND nats.mutualis-system.svc"))).toEqual({ error: "InternalError", message: "an unexpected error occurred; it has been logged" });
  });

  it("when there are too many attempts, then the answer is 429", () => {
    expect(statusOf(new TooManyRequests("too many wrong passwords: try again in 4 s", 4))).toBe(429);
  });
});

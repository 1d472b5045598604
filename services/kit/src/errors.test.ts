import { describe, expect, it } from "vitest";
import { Conflict, Forbidden, Gone, InvalidRequest, NotFound, PayloadTooLarge, publicBody, statusOf, Unauthorized, Unavailable } from "./errors.ts";

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

import { describe, expect, it } from "vitest";
import { acrFor, amrFor, authorizeRequestProblem, logoutRequestProblem, randomValueProblem } from "./contract.ts";

const thirtyTwo = "a".repeat(32);

describe("ProConnect's rules on requests", () => {
  it.each([
    ["when only ProConnect's parameters are sent, then the request passes", ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "acr_values", "claims", "prompt", "idp_hint"], undefined],
    ["when PKCE is used, then the request passes", ["client_id", "code_challenge", "code_challenge_method"], undefined],
    ["when response_mode is sent, then it is named as refused", ["client_id", "response_mode"], "paramètre non accepté par ProConnect : response_mode"],
    ["when several unknown parameters are sent, then each is named once", ["foo", "bar", "foo"], "paramètre non accepté par ProConnect : foo, bar"],
  ])("%s", (_name, parameters, problem) => {
    expect(authorizeRequestProblem(parameters)).toBe(problem);
  });

  it.each([
    ["when id_token_hint, state and post_logout_redirect_uri are all given, then the logout passes", { id_token_hint: "x", state: "y", post_logout_redirect_uri: "z" }, undefined],
    ["when state is missing, then it is named", { id_token_hint: "x", post_logout_redirect_uri: "z" }, "paramètre obligatoire absent : state"],
    ["when all are missing or empty, then all are named", { state: "" }, "paramètre obligatoire absent : id_token_hint, state, post_logout_redirect_uri"],
  ])("%s", (_name, parameters, problem) => {
    expect(logoutRequestProblem(parameters)).toBe(problem);
  });

  it.each([
    ["when state has 32 characters, then it is accepted", "state", thirtyTwo, undefined],
    ["when state has 31 characters, then it is refused", "state", thirtyTwo.slice(1), "state must be at least 32 characters long"],
    ["when nonce is missing, then it is refused", "nonce", undefined, "nonce is required"],
    ["when nonce is empty, then it is refused", "nonce", "", "nonce is required"],
  ] as const)("%s", (_name, parameter, value, problem) => {
    expect(randomValueProblem(parameter, value)).toBe(problem);
  });
});

describe("the level of assurance a sign-in is given", () => {
  it.each([
    ["when the service asks for nothing, then eidas1", {}, "eidas1"],
    ["when the service sends acr_values eidas1, then eidas1", { acr_values: "eidas1" }, "eidas1"],
    ["when acr_values lists an unknown level first, then the first known one", { acr_values: "loa-42 eidas2" }, "eidas2"],
    [
      "when the claims parameter asks for an essential acr, then that level, before acr_values",
      { acr_values: "eidas1", claims: JSON.stringify({ id_token: { acr: { essential: true, values: ["https://proconnect.gouv.fr/assurance/self-asserted-2fa"] } } }) },
      "https://proconnect.gouv.fr/assurance/self-asserted-2fa",
    ],
    ["when the claims parameter is not JSON, then it is ignored here", { claims: "{", acr_values: "eidas3" }, "eidas3"],
  ])("%s", (_name, parameters, acr) => {
    expect(acrFor(parameters)).toBe(acr);
  });

  it.each([
    ["when the level is eidas1, then a password alone", "eidas1", ["pwd"]],
    ["when the level is eidas2, then two factors", "eidas2", ["pwd", "totp", "mfa"]],
    ["when the level is a -2fa one, then two factors", "https://proconnect.gouv.fr/assurance/consistency-checked-2fa", ["pwd", "totp", "mfa"]],
  ])("%s", (_name, acr, amr) => {
    expect(amrFor(acr)).toEqual(amr);
  });
});

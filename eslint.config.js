import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/**", ".local/**", "**/dist/**", "crds/**"] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "no-console": "off",
      // Kubernetes objects type every metadata field as optional even where the API server
      // guarantees it (name, uid of a stored object); asserting those is clearer than guarding.
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    // Plain Node scripts; TypeScript checks names in .ts files itself.
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
  {
    // The dashboard viewer runs in the browser.
    files: ["tools/local/dashboards/*.js"],
    languageOptions: { globals: { document: "readonly", location: "readonly", fetch: "readonly", setInterval: "readonly", Intl: "readonly", URLSearchParams: "readonly" } },
  },
);

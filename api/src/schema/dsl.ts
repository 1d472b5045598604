/**
 * A small vocabulary for writing OpenAPI v3 schemas the way Kubernetes wants them: structural
 * (no $ref), every field described (the description becomes `kubectl explain` text), CEL rules
 * beside the fields they check.
 */

/** A CEL rule the API server evaluates at admission (`x-kubernetes-validations`). */
export interface CelRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
  readonly fieldPath?: string;
  readonly optionalOldSelf?: boolean;
}

/** The subset of apiextensions/v1 JSONSchemaProps Mutualis uses. */
export interface Schema {
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  readonly description: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly items?: Schema;
  readonly additionalProperties?: Schema;
  readonly enum?: readonly (string | number)[];
  readonly default?: unknown;
  readonly pattern?: string;
  readonly format?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly nullable?: boolean;
  readonly "x-kubernetes-validations"?: readonly CelRule[];
  readonly "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  readonly "x-kubernetes-list-map-keys"?: readonly string[];
  readonly "x-kubernetes-map-type"?: "atomic" | "granular";
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean;
  readonly "x-kubernetes-int-or-string"?: boolean;
  readonly "x-kubernetes-embedded-resource"?: boolean;
}

type Extra = Omit<Schema, "type" | "description" | "properties" | "items" | "required">;

export function string(description: string, extra: Extra = {}): Schema {
  return { type: "string", description, ...extra };
}

export function integer(description: string, extra: Extra = {}): Schema {
  return { type: "integer", description, ...extra };
}

export function boolean(description: string, extra: Extra = {}): Schema {
  return { type: "boolean", description, ...extra };
}

export function enumeration(description: string, values: readonly string[], extra: Extra = {}): Schema {
  return { type: "string", description, enum: values, ...extra };
}

export function array(description: string, items: Schema, extra: Extra = {}): Schema {
  return { type: "array", description, items, ...extra };
}

export function object(
  description: string,
  properties: Record<string, Schema>,
  options: { required?: readonly string[] } & Extra = {},
): Schema {
  const { required, ...extra } = options;
  return { type: "object", description, properties, ...(required && required.length > 0 ? { required } : {}), ...extra };
}

export function map(description: string, values: Schema, extra: Extra = {}): Schema {
  return { type: "object", description, additionalProperties: values, ...extra };
}

/** Free-form settings kept as given (service-specific configuration). */
export function freeForm(description: string, options: { maxProperties?: number } = {}): Schema {
  return { type: "object", description, "x-kubernetes-preserve-unknown-fields": true, ...options };
}

/** Text shown to people (a name, a label): printable characters only, never a line break or a control character. */
export const printable: CelRule[] = [{ rule: "!self.matches('[\\\\x00-\\\\x1f\\\\x7f]')", message: "must not contain control characters (line breaks, tabs…)" }];

/** A Kubernetes resource quantity ("500m", "2", "4Gi"), checked by the API server's CEL library. */
export function quantity(description: string): Schema {
  return string(description, {
    maxLength: 32,
    "x-kubernetes-validations": [
      { rule: "isQuantity(self)", message: "must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi" },
      {
        rule: "!isQuantity(self) || quantity(self).compareTo(quantity('0')) > 0",
        message: "must be greater than zero",
      },
    ],
  });
}

/** A field that cannot change once set. */
export function immutable(schema: Schema, message: string): Schema {
  return {
    ...schema,
    "x-kubernetes-validations": [...(schema["x-kubernetes-validations"] ?? []), { rule: "self == oldSelf", message }],
  };
}

/** metav1.Condition, as the Kubernetes API conventions define it. */
export const condition: Schema = object(
  "A condition of the resource, following the Kubernetes API conventions.",
  {
    type: string("Type of the condition, in CamelCase (for example Ready).", { maxLength: 316 }),
    status: enumeration("Status of the condition: True, False or Unknown.", ["True", "False", "Unknown"]),
    observedGeneration: integer("The metadata.generation the condition was set for.", { minimum: 0 }),
    lastTransitionTime: string("When the condition last changed status.", { format: "date-time" }),
    reason: string("A CamelCase word saying why the condition is in this status.", { maxLength: 1024, minLength: 1 }),
    message: string("A human-readable explanation of the condition.", { maxLength: 32768 }),
  },
  { required: ["type", "status", "lastTransitionTime", "reason", "message"] },
);

export const conditions: Schema = array("The latest observations of the resource's state.", condition, {
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
  maxItems: 16,
});

export const observedGeneration: Schema = integer("The metadata.generation the operator last acted on.", { minimum: 0 });

/** A resource's status: what the operator observed and did, with the conventional fields first. */
export function resourceStatus(fields: Record<string, Schema>): Schema {
  return object("What the operator observed and did.", { observedGeneration, conditions, ...fields });
}

/** One problem with one field of one input; `field` is a dotted path (`properties.value`). */
export interface FieldError {
  field: string;
  message: string;
}

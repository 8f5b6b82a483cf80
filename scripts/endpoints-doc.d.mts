/** Where the reference is written, from the repository's root. */
export const ENDPOINTS_DOC: string;
/** docs/endpoints.md from an OpenAPI 3 description (GET /openapi.json). */
export function renderEndpoints(openapi: unknown): string;

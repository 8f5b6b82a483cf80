// The Snowplow collector paths, read by the Snowplow routes (collect/snowplow.ts) and by the
// URL rewrite and client-error plugins, which must not import the routes.

/** Snowplow's default POST path (tracker protocol 2) and GET pixel path. */
export const SNOWPLOW_POST_PATH = '/com.snowplowanalytics.snowplow/tp2';
export const SNOWPLOW_GET_PATH = '/com.snowplowanalytics.snowplow/i';

___TERMS_OF_SERVICE___

By creating or modifying this file you agree to Google Tag Manager's Community
Template Gallery Developer Terms of Service available at
https://developers.google.com/tag-manager/gallery-tos (or such other URL as
Google may provide), as modified from time to time.


___INFO___

{
  "type": "TAG",
  "id": "cvt_temp_public_id",
  "version": 1,
  "securityGroups": [],
  "displayName": "pixeltrail",
  "categories": [
    "ADVERTISING",
    "ATTRIBUTION",
    "CONVERSIONS"
  ],
  "brand": {
    "id": "brand_dummy",
    "displayName": "pixeltrail"
  },
  "description": "Loads the pixeltrail tag from your own collector and sends a page view or a conversion (Purchase, Lead, \u2026) with values from GTM variables.",
  "containerContexts": [
    "WEB"
  ]
}


___TEMPLATE_PARAMETERS___

[
  {
    "type": "TEXT",
    "name": "collectorUrl",
    "displayName": "Collector URL",
    "simpleValueType": true,
    "help": "Where pixeltrail answers, e.g. https://shop.example/metrics-xyz (first-party mode) or https://collector.example.com. The tag is loaded from <Collector URL>/t.js.",
    "valueValidators": [
      {
        "type": "NON_EMPTY"
      }
    ]
  },
  {
    "type": "TEXT",
    "name": "envId",
    "displayName": "Environment id",
    "simpleValueType": true,
    "help": "The pixeltrail environment (env_id), e.g. env_demo.",
    "valueValidators": [
      {
        "type": "NON_EMPTY"
      }
    ]
  },
  {
    "type": "SELECT",
    "name": "eventType",
    "displayName": "Send",
    "macrosInSelect": false,
    "selectItems": [
      {
        "value": "page",
        "displayValue": "Page view (and load the tag)"
      },
      {
        "value": "track",
        "displayValue": "An event (conversion)"
      },
      {
        "value": "load",
        "displayValue": "Nothing: only load the tag and its codeless triggers"
      }
    ],
    "simpleValueType": true,
    "defaultValue": "page"
  },
  {
    "type": "TEXT",
    "name": "eventName",
    "displayName": "Event name",
    "simpleValueType": true,
    "help": "Purchase, Lead, AddToCart, CompleteRegistration, or any name your destinations subscribe to.",
    "defaultValue": "Purchase",
    "enablingConditions": [
      {
        "paramName": "eventType",
        "paramValue": "track",
        "type": "EQUALS"
      }
    ]
  },
  {
    "type": "TEXT",
    "name": "value",
    "displayName": "Value",
    "simpleValueType": true,
    "help": "A number, e.g. {{DLV - ecommerce.value}}.",
    "enablingConditions": [
      {
        "paramName": "eventType",
        "paramValue": "track",
        "type": "EQUALS"
      }
    ]
  },
  {
    "type": "TEXT",
    "name": "currency",
    "displayName": "Currency",
    "simpleValueType": true,
    "help": "ISO 4217 code, e.g. EUR or {{DLV - ecommerce.currency}}.",
    "enablingConditions": [
      {
        "paramName": "eventType",
        "paramValue": "track",
        "type": "EQUALS"
      }
    ]
  },
  {
    "type": "TEXT",
    "name": "eventId",
    "displayName": "Event id",
    "simpleValueType": true,
    "help": "Deduplicates the browser and server copies: use the order id, e.g. {{DLV - ecommerce.transaction_id}}.",
    "enablingConditions": [
      {
        "paramName": "eventType",
        "paramValue": "track",
        "type": "EQUALS"
      }
    ]
  },
  {
    "type": "TEXT",
    "name": "contentIds",
    "displayName": "Content ids",
    "simpleValueType": true,
    "help": "Comma-separated product ids.",
    "enablingConditions": [
      {
        "paramName": "eventType",
        "paramValue": "track",
        "type": "EQUALS"
      }
    ]
  },
  {
    "type": "TEXT",
    "name": "userId",
    "displayName": "User id",
    "simpleValueType": true,
    "help": "Your own id of a signed-in user (optional)."
  },
  {
    "type": "TEXT",
    "name": "email",
    "displayName": "Email",
    "simpleValueType": true,
    "help": "The user's email (optional): pixeltrail hashes it on arrival and never stores it in clear."
  },
  {
    "type": "SELECT",
    "name": "adsConsent",
    "displayName": "Ads consent",
    "macrosInSelect": true,
    "selectItems": [
      {
        "value": "unknown",
        "displayValue": "Not stated"
      },
      {
        "value": "granted",
        "displayValue": "Granted"
      },
      {
        "value": "denied",
        "displayValue": "Denied"
      }
    ],
    "simpleValueType": true,
    "defaultValue": "unknown",
    "help": "Denied: no cookie, no attribution, no delivery to ad platforms. A variable may return granted or denied."
  }
]


___SANDBOXED_JS_FOR_WEB_TEMPLATE___

// pixeltrail GTM tag: the same loader stub and calls as the README snippet, from GTM fields.
const createArgumentsQueue = require('createArgumentsQueue');
const injectScript = require('injectScript');
const makeNumber = require('makeNumber');
const makeString = require('makeString');

// The sandbox has no regular expressions: drop trailing slashes by hand.
let base = makeString(data.collectorUrl);
while (base.length > 0 && base.charAt(base.length - 1) === '/') {
  base = base.substring(0, base.length - 1);
}

// window.pixeltrail pushes its arguments onto pixeltrail.q until t.js replays them.
const pixeltrail = createArgumentsQueue('pixeltrail', 'pixeltrail.q');

const init = { endpoint: base, autoPageView: data.eventType === 'page' };
if (data.adsConsent === 'granted') init.consent = { ads: true };
if (data.adsConsent === 'denied') init.consent = { ads: false };
pixeltrail('init', makeString(data.envId), init);
if (data.adsConsent === 'granted' || data.adsConsent === 'denied') {
  pixeltrail('consent', init.consent);
}

if (data.userId || data.email) {
  const traits = {};
  if (data.email) traits.email = makeString(data.email);
  pixeltrail('identify', data.userId ? makeString(data.userId) : undefined, traits);
}

if (data.eventType === 'track' && data.eventName) {
  const properties = {};
  if (data.value !== undefined && data.value !== '') properties.value = makeNumber(data.value);
  if (data.currency) properties.currency = makeString(data.currency);
  if (data.contentIds) properties.content_ids = makeString(data.contentIds).split(',');
  const options = {};
  if (data.eventId) options.event_id = makeString(data.eventId);
  pixeltrail('track', makeString(data.eventName), properties, options);
}

// Cached by GTM under one id: several pixeltrail tags on a page load t.js once.
injectScript(base + '/t.js', data.gtmOnSuccess, data.gtmOnFailure, 'pixeltrail');


___WEB_PERMISSIONS___

[
  {
    "instance": {
      "key": {
        "publicId": "access_globals",
        "versionId": "1"
      },
      "param": [
        {
          "key": "keys",
          "value": {
            "type": 2,
            "listItem": [
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "key"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  },
                  {
                    "type": 1,
                    "string": "execute"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "pixeltrail"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  }
                ]
              },
              {
                "type": 3,
                "mapKey": [
                  {
                    "type": 1,
                    "string": "key"
                  },
                  {
                    "type": 1,
                    "string": "read"
                  },
                  {
                    "type": 1,
                    "string": "write"
                  },
                  {
                    "type": 1,
                    "string": "execute"
                  }
                ],
                "mapValue": [
                  {
                    "type": 1,
                    "string": "pixeltrail.q"
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  },
                  {
                    "type": 8,
                    "boolean": true
                  }
                ]
              }
            ]
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  },
  {
    "instance": {
      "key": {
        "publicId": "inject_script",
        "versionId": "1"
      },
      "param": [
        {
          "key": "urls",
          "value": {
            "type": 2,
            "listItem": [
              {
                "type": 1,
                "string": "https://collector.example.com/t.js"
              },
              {
                "type": 1,
                "string": "https://shop.example/metrics-xyz/t.js"
              }
            ]
          }
        }
      ]
    },
    "clientAnnotations": {
      "isEditedByUser": true
    },
    "isRequired": true
  }
]


___TESTS___

scenarios: []


___NOTES___

pixeltrail tag template. Edit the "Injects scripts" permission to your collector's t.js URL.

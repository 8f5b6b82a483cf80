/** Entry of `/rules.js`: the server prepends `window.__ptr = [rules];`. */
import { applyRules } from './rules/engine.js';

applyRules(window as never, document, location);

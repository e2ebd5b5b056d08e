import { defineConfig } from '../../src/core/index.ts';
import { analytics, clickCounts, links, linksV1, linksV2 } from './links.ts';

/** The bundled example: a URL shortener with two API versions and click analytics. */
export default defineConfig({
  services: [linksV1, linksV2, analytics],
  collections: [links, clickCounts],
});

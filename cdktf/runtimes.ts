/**
 * Every runtime and base image the deployment runs on, with the day its support ends and the page that says so.
 * `npm run deploy` warns within 180 days of a date and refuses past it (cdktf/check-support.ts); a unit test checks
 * the table covers every runtime in the synthesized stack and every image a Dockerfile under trainer/ builds from.
 */
export interface SupportedPart {
  kind: 'functions-runtime' | 'image';
  /** `nodejs24`, or an image reference as a Dockerfile names it (FROM, or an ARG's default), without digest. */
  name: string;
  /** YYYY-MM-DD: the last day it is supported (for an image, the earliest end of what it carries). */
  endOfSupport: string;
  source: string;
  note?: string;
}

/** Node.js 24 (LTS) reaches end of life on 2028-04-30: the images that carry it end there at the latest. */
const NODE_24_END = '2028-04-30';
const NODE_RELEASES = 'https://nodejs.org/en/about/previous-releases';

export const SUPPORT_TABLE: readonly SupportedPart[] = [
  {
    kind: 'functions-runtime',
    name: 'nodejs24',
    endOfSupport: '2028-10-31',
    source: 'https://cloud.google.com/functions/docs/runtime-support',
    note: 'decommission date: after it no function can be created or updated on this runtime',
  },
  {
    kind: 'image',
    name: 'node:24-trixie-slim',
    endOfSupport: NODE_24_END,
    source: NODE_RELEASES,
    note: "Node 24's end of life; Debian 13 (trixie) has security support until 2028-08 (https://www.debian.org/releases/trixie/)",
  },
  {
    kind: 'image',
    name: 'ubuntu:24.04',
    endOfSupport: '2029-05-31',
    source: 'https://ubuntu.com/about/release-cycle',
    note: 'standard support of Ubuntu 24.04 LTS; the GPU image copies Node 24 into it (see node:24-trixie-slim)',
  },
];

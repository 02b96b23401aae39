/*
 * The other cookies a real browser sends to a real site with every request: analytics, consent, CSRF, a
 * bot-management cookie, A/B tests, preferences. The benchmark's requests carry them besides the session's
 * own cookies, for every contender alike (the bare route too), since what a session layer pays to find its
 * cookies grows with the header it is given. Their shapes follow what the common tools set (names, value
 * formats and lengths); the values are fixed, so every run sends the same bytes.
 */

/** Sent before the session's cookies (a browser sends older cookies first, for the same path). */
const BEFORE: Array<[string, string]> = [
  ["_ga", "GA1.1.1473829016.1763991154"],
  ["_ga_3K7QF2XZ9M", "GS1.1.1764168013.12.1.1764168290.0.0.0"],
  ["_gcl_au", "1.1.1827361548.1763991154"],
  ["_fbp", "fb.1.1763991154218.482716394857261834"],
  [
    "OptanonConsent",
    "isGpcEnabled=0&datestamp=Thu+Nov+27+2026+10%3A04%3A50+GMT%2B0100+(Central+European+Standard+Time)&version=202409.1.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId=6f1c2b9e-58d4-4c0a-9e7b-2f3d5a1c8e47&interactionCount=1&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A1%2CC0003%3A1%2CC0004%3A0&AwaitingReconsent=false",
  ],
  ["OptanonAlertBoxClosed", "2026-11-24T09:32:41.118Z"],
  ["csrftoken", "pJ4xW9tR2mQ8vL6kN1bC7zY3hF5gD0sAeU8iO2wX4qV6nM9jK1lP3rT5yH7uB0cE"],
  [
    "_hjSessionUser_3184712",
    "eyJpZCI6IjRjOGE3ZjFlLTI5YjMtNWQ2Yy04ZTFmLTBhOWIyYzNkNGU1ZiIsImNyZWF0ZWQiOjE3NjM5OTExNTQyMTgsImV4aXN0aW5nIjp0cnVlfQ==",
  ],
  [
    "_hjSession_3184712",
    "eyJpZCI6IjkxYjJjM2Q0LWU1ZjYtNDc4OC05OWFhLWJiY2NkZGVlZmYwMCIsImMiOjE3NjQxNjgwMTMxMjQsInMiOjAsInIiOjAsInNiIjowLCJzciI6MCwic2UiOjAsImZzIjowLCJzcCI6MH0=",
  ],
  ["ajs_anonymous_id", "%2265e1b2c4-7d8f-4a9b-b0c1-d2e3f4a5b6c7%22"],
  ["intercom-id-k9x2m4p7", "0f4c2a8e-3b1d-4e6f-9a7c-5d2b8e1f4a6c"],
  ["intercom-device-id-k9x2m4p7", "7e2d9c4a-1f6b-4a3e-8d5c-2b9f7e4a1d3c"],
  ["_uetvid", "5a8c1e60c93211efa4e7b1d25f4c8e92"],
  ["_clck", "1x7k2pq%7C2%7Cfr4%7C0%7C1796"],
  [
    "AMCV_9AE0F0145936E3790A495CAA%40AdobeOrg",
    "-1124106680%7CMCIDTS%7C20419%7CMCMID%7C27391846502817364950182736495018%7CMCAAMLH-1764773090%7C6%7CMCAAMB-1764773090%7CRKhpRz8krg2tLO6pguXWp5olkAcUniQYPHaMWWgdJ3xzPWQmdj0y%7CMCOPTOUT-1764175490s%7CNONE%7CvVersion%7C5.5.0",
  ],
  ["s_cc", "true"],
]; /** Sent after them (set later, or on a longer path). */
const AFTER: Array<[string, string]> = [
  [
    "__cf_bm",
    "Xc4pQ9r2sT7uV1wY3zA5bC8dE0fG6hJ2kL4mN7pQ9rS1tU3vW5xY8zA0bC2dE4fG6h-1764168290-1.0.1.1-Jk3lM5nP7qR9sT1uV3wX5yZ7aB9cD1eF3gH5iJ7kL9mN1oP3qR5sT7uV9wX1yZ3aB5cD7eF9gH1iJ3kL5mN7oP9",
  ],
  ["_cfuvid", "q7Zr1Xw3Vt5Us7Rq9Po1Nm3Lk5Ji7Hg9Fe1Dc3Ba5Zy-1764168013572-0.0.1.1-604800000"],
  ["_uetsid", "5a8b7f10c93211ef9c2a3d4e5f6a7b8c"],
  ["_clsk", "1q2w3e4%7C1764168290417%7C6%7C1%7Cw.clarity.ms%2Fcollect"],
  ["ab_checkout_v3", "variant-b"],
  ["locale", "en-GB"],
  ["theme", "dark"],
  ["cookie_consent_level", "%7B%22necessary%22%3Atrue%2C%22analytics%22%3Atrue%2C%22marketing%22%3Afalse%7D"],
  ["amp_6e403e", "Y2E3ZjhiMmQtNGU1Yy00YTFkLWI5ZTgtN2MzZjJhMWI0ZDVl...1iq8rm7ks.1iq8rt3vd.4.2.6"],
];

const header = (pairs: Array<[string, string]>) => pairs.map(([name, value]) => `${name}=${value}`).join("; ");

/** The other cookies of a browser, as `Cookie` header text to put before and after the session's own. */
export const BROWSER_COOKIES = { before: header(BEFORE), after: header(AFTER), count: BEFORE.length + AFTER.length };

/** A `Cookie` header holding `own` (a contender's cookies, possibly none) amid a browser's other cookies. */
export function withBrowserCookies(own: string): string {
  return own === ""
    ? `${BROWSER_COOKIES.before}; ${BROWSER_COOKIES.after}`
    : `${BROWSER_COOKIES.before}; ${own}; ${BROWSER_COOKIES.after}`;
}

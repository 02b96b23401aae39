/** Realistic session data: a user profile, roles, a CSRF token and a few cart lines (≈2 KB as JSON). */
export function smallSession(seed = 1): Record<string, unknown> {
  return {
    user: {
      id: `user-${seed}`,
      email: `user${seed}@example.com`,
      name: "Alice Example",
      locale: "en-GB",
      timezone: "Europe/Berlin",
      avatarUrl: `https://cdn.example.com/avatars/${seed}.png`,
    },
    roles: ["customer", "newsletter", "beta-tester"],
    csrfToken: "q5f8sX1o2mYk3JbL9wT4hV7cZ0aR6nP",
    cart: Array.from({ length: 10 }, (_, i) => ({
      sku: `SKU-${1000 + i}`,
      title: `Product number ${i} with a reasonably descriptive title`,
      quantity: (i % 3) + 1,
      unitPrice: { amount: 1999 + i * 250, currency: "EUR" },
      addedAt: `2026-11-2${i % 10}T10:0${i}:00Z`,
    })),
    preferences: { theme: "dark", currency: "EUR", marketingEmails: false, itemsPerPage: 24 },
    lastVisited: ["/", "/products/shoes", "/products/shoes/sku-1002", "/cart", "/checkout/address"],
    loginAt: 1_764_000_000_000 + seed,
  };
}

/** ≈50 KB of JSON: the application router's capacity-planning figure per session. */
export function largeSession(seed = 1): Record<string, unknown> {
  return {
    ...smallSession(seed),
    history: Array.from({ length: 480 }, (_, i) => ({
      path: `/products/category-${i % 17}/item-${i * 7 + seed}`,
      at: 1_764_000_000_000 + i * 61_000,
      referrer: i % 4 === 0 ? "https://search.example.com/?q=shoes" : null,
      durationMs: (i * 7919) % 60_000,
    })),
  };
}

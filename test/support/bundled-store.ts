// The Durable Object store as the bundled custom store, as the reference worker bundles it.
export { bundledStore } from "../../app/custom-store.js";

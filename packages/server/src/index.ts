/**
 * @since 0.1.0
 */
export * as RecallServer from "./RecallServer.js"
/**
 * @since 0.1.0
 */
export * as RecallSimulator from "./RecallSimulator.js"
/**
 * @since 0.1.0
 */
export * as ServerMetrics from "./ServerMetrics.js"
/**
 * @since 0.1.0
 */
export * as UpgradeAuth from "./UpgradeAuth.js"

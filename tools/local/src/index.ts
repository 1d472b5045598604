export { buildServicesBundle, servicesBundle } from "./bundle.ts";
export { ConfigError, defaultPorts, defaultZones, loadConfig, type PlatformConfig, type Ports, type Zone } from "./config.ts";
export { down, platformEnv, restart, startComponent, status, stopComponent, up, type ComponentStatus, type PlatformEnv, type Progress } from "./platform.ts";
export { listeningPids, portInUse, runningPid, startDaemon, StartError, stopDaemon, type Daemon } from "./processes.ts";
export { ensurePki, issueCertificate, pkiPaths, type CertificateFiles, type ClientIdentity, type Pki } from "./pki.ts";
export { layout } from "./layout.ts";
export { writeKubeconfig } from "./kubeconfig.ts";
export {
  createAccount,
  createUser,
  ensureOperatorIdentity,
  fromSeed,
  signAccount,
  userCreds,
  type KeyPair,
  type OperatorIdentity,
} from "./nats/auth.ts";
export { AccountPushError, pushAccountJwt } from "./nats/resolver.ts";
export { httpGet, type HttpAnswer, type TlsClient } from "./http.ts";
export { eicar, scanDirectory } from "./components.ts";
export { applyLotService, claimDirectory, localLotSettings, localVolume, lotServiceRoute, type LotEndpoints } from "./provided.ts";
export { localChartValues } from "./lot.ts";
export { demoPeople, demoToken, ensureLocalSecrets, localClients, localIdentitySecrets, rotateIdentityKeys } from "./identity.ts";
export { kubectlCredential, writeOidcKubeconfig } from "./kubectl-credential.ts";
export { parseRoute, startIngress, type Route } from "./ingress/ingress.ts";

/** The credential authority (docs/security.md "Credential lifecycle"). */
export { credentialAuthorityKind } from './credential-authority.ts';
export * from './credential-options.ts';
export { CredentialRegistry, type Issued } from './credential-registry.ts';
export { actionForCommand, type CredentialAction } from './credential-rules.ts';

// The subset of the SPDX 2.3 JSON document model Kiln writes (field names as in the SPDX 2.3
// JSON schema, schemas/spdx-schema.json of spdx/spdx-spec).

export interface SpdxChecksum {
  algorithm: 'SHA1' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512' | 'MD5';
  checksumValue: string;
}

export interface SpdxExternalRef {
  /** SPDX 2.3 spells it with a hyphen (2.2 used PACKAGE_MANAGER) */
  referenceCategory: 'PACKAGE-MANAGER' | 'SECURITY' | 'PERSISTENT-ID' | 'OTHER';
  referenceType: string;
  referenceLocator: string;
}

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo: string;
  supplier: string;
  downloadLocation: string;
  filesAnalyzed: false;
  licenseConcluded: 'NOASSERTION';
  licenseDeclared: string;
  copyrightText: 'NOASSERTION';
  checksums?: SpdxChecksum[];
  externalRefs: SpdxExternalRef[];
  homepage?: string;
  summary?: string;
  description?: string;
  sourceInfo?: string;
  builtDate?: string;
}

export type SpdxRelationshipType = 'DESCRIBES' | 'DEPENDS_ON' | 'OPTIONAL_DEPENDENCY_OF';

export interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: SpdxRelationshipType;
  relatedSpdxElement: string;
}

export interface SpdxExtractedLicense {
  licenseId: string;
  extractedText: string;
  name?: string;
  comment?: string;
}

export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
  hasExtractedLicensingInfos?: SpdxExtractedLicense[];
}

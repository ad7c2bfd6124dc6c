// Blueprint model: the upstream blueprint format (TOML or JSON), snake_case keys as users write them.

export interface BlueprintUser {
  name: string;
  description?: string;
  password?: string;
  key?: string;
  home?: string;
  shell?: string;
  groups?: string[];
  uid?: number;
  gid?: number;
  expiredate?: number;
}

export interface BlueprintFile {
  path: string;
  mode?: string;
  user?: string | number;
  group?: string | number;
  data?: string;
}

export interface BlueprintDirectory {
  path: string;
  mode?: string;
  user?: string | number;
  group?: string | number;
  ensure_parents?: boolean;
}

export interface Customizations {
  hostname?: string;
  kernel?: { name?: string; append?: string };
  sshkey?: { user: string; key: string }[];
  user?: BlueprintUser[];
  group?: { name: string; gid?: number }[];
  timezone?: { timezone?: string; ntpservers?: string[] };
  locale?: { languages?: string[]; keyboard?: string };
  firewall?: { ports?: string[]; services?: { enabled?: string[]; disabled?: string[] } };
  services?: { enabled?: string[]; disabled?: string[]; masked?: string[] };
  files?: BlueprintFile[];
  directories?: BlueprintDirectory[];
  filesystem?: { mountpoint: string; minsize: number }[];
  installation_device?: string;
  fdo?: {
    manufacturing_server_url?: string;
    diun_pub_key_insecure?: string;
    diun_pub_key_hash?: string;
    diun_pub_key_root_certs?: string;
    di_mfg_string_type_mac_iface?: string;
  };
  ignition?: { embedded?: { config: string }; firstboot?: { url: string } };
}

export interface Blueprint {
  name?: string;
  description?: string;
  version?: string;
  distro?: string;
  packages: { name: string; version?: string }[];
  modules: { name: string; version?: string }[];
  groups: { name: string }[];
  customizations: Customizations;
}

/** A blueprint with nothing in it: what `manifest` uses when --blueprint is not given. */
export function emptyBlueprint(): Blueprint {
  return { packages: [], modules: [], groups: [], customizations: {} };
}

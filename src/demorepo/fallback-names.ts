// Package names the Fedora image definitions ask for, taken from the package-set lists in
// /work/shared/reference/upstream-image-builder.md §4 (F42 snapshot: minimal, IoT os, anaconda
// installer, simplified installer, bootable container, platform lists and build-root sets).
// Used until the definitions loader can hand us allPackageNames(defs), and by our own tests.
// Group requests ('@core') are kept as written: createDemoRepo turns them into comps groups.

const MINIMAL = `@core bash-completion grubby fwupd-efi initial-setup libxkbcommon NetworkManager-wifi
linux-firmware brcmfmac-firmware iwlwifi-mvm-firmware realtek-firmware`;

/** kernel + partition-table tools + the SELinux transaction + riscv64 additions + excluded names */
const MINIMAL_EXTRA = `kernel dosfstools e2fsprogs selinux-policy-targeted dnf5 policycoreutils
dracut-config-rescue firewalld`;

const MINIMAL_X86_64 = `dracut-config-generic efibootmgr grub2-efi-x64 shim-x64`;
const MINIMAL_AARCH64 = `dracut-config-generic efibootmgr grub2-efi-aa64 grub2-tools shim-aa64
arm-image-installer bcm283x-firmware uboot-images-armv8`;
const MINIMAL_RISCV64 = `dracut-config-generic grub2-efi-riscv64 grub2-efi-riscv64-modules shim-unsigned-riscv64`;

const IOT_OS = `NetworkManager NetworkManager-wifi NetworkManager-wwan aardvark-dns atheros-firmware attr
authselect bash bash-completion bootupd brcmfmac-firmware chrony clevis clevis-dracut clevis-luks
clevis-pin-tpm2 container-selinux containernetworking-plugins coreutils cracklib-dicts criu cryptsetup
curl dosfstools dracut-config-generic dracut-network e2fsprogs efibootmgr fdo-client fdo-owner-cli
fedora-iot-config fedora-release-iot firewalld fwupd fwupd-efi fwupd-plugin-modem-manager
fwupd-plugin-uefi-capsule-data glibc glibc-minimal-langpack gnupg2 greenboot
greenboot-default-health-checks gzip hostname ignition ignition-edge ima-evm-utils iproute iputils iwd
iwlwifi-mvm-firmware keyutils less libsss_sudo linux-firmware lvm2 netavark nss-altfiles
openssh-clients openssh-server openssl pinentry podman policycoreutils polkit procps-ng realtek-firmware
rootfiles rpm screen selinux-policy-targeted setools-console setup shadow-utils skopeo slirp4netns
sssd-client sudo systemd systemd-resolved tar tmux tpm2-pkcs11 traceroute usbguard util-linux
vim-minimal wireless-regdb wpa_supplicant xfsprogs xz zram-generator basesystem filesystem ssh-key-dir`;

const INSTALLER_PLATFORMS = `dracut-config-generic efibootmgr grub2-efi-x64 shim-x64 grub2-pc biosdevname
grub2-pc-modules grub2-tools-efi grub2-tools grub2-tools-extra grub2-efi-ia32 grub2-efi-ia32-cdboot
shim-ia32 microcode_ctl amd-gpu-firmware amd-ucode-firmware atheros-firmware atmel-firmware
b43-openfwwf brcmfmac-firmware intel-gpu-firmware iwlegacy-firmware iwlwifi-dvm-firmware
iwlwifi-mvm-firmware libertas-firmware linux-firmware mt7xxx-firmware nvidia-gpu-firmware
nxpwireless-firmware qed-firmware realtek-firmware tiwilink-firmware zd1211-firmware grub2-efi-aa64
shim-aa64 arm-image-installer grub2-efi-aa64-cdboot uboot-images-armv8 uboot-tools bcm2711-firmware
bcm2835-firmware bcm283x-firmware qcom-firmware`;

const ANACONDA = `aajohan-comfortaa-fonts abattis-cantarell-fonts alsa-firmware alsa-tools-firmware
anaconda anaconda-dracut anaconda-install-img-deps anaconda-widgets atheros-firmware audit bind-utils
bitmap-fangsongti-fonts brcmfmac-firmware bzip2 cryptsetup curl dbus-x11 dejavu-sans-fonts
dejavu-sans-mono-fonts device-mapper-persistent-data dmidecode dnf dracut-config-generic dracut-network
efibootmgr ethtool fcoe-utils ftp gdb-gdbserver gdisk glibc-all-langpacks gnome-kiosk
google-noto-sans-cjk-ttc-fonts grub2-tools grub2-tools-extra grub2-tools-minimal grubby
gsettings-desktop-schemas hdparm hexedit hostname initscripts ipmitool iwlwifi-dvm-firmware
iwlwifi-mvm-firmware jomolhari-fonts kacst-farsi-fonts kacst-qurn-fonts kbd kbd-misc
kdump-anaconda-addon kernel khmeros-base-fonts less libblockdev-lvm-dbus libibverbs
libreport-plugin-bugzilla libreport-plugin-reportuploader librsvg2 linux-firmware lldpad
lohit-assamese-fonts lohit-bengali-fonts lohit-devanagari-fonts lohit-gujarati-fonts
lohit-gurmukhi-fonts lohit-kannada-fonts lohit-odia-fonts lohit-tamil-fonts lohit-telugu-fonts lsof
madan-fonts mtr mt-st net-tools nfs-utils nmap-ncat nm-connection-editor nss-tools openssh-clients
openssh-server ostree pciutils perl-interpreter pigz plymouth prefixdevname python3-pyatspi rdma-core
realtek-firmware rit-meera-new-fonts rng-tools rpcbind rpm-ostree rsync rsyslog selinux-policy-targeted
sg3_utils sil-abyssinica-fonts sil-padauk-fonts sil-scheherazade-new-fonts smartmontools spice-vdagent
strace systemd tar thai-scalable-waree-fonts udisks2 udisks2-iscsi usbutils vim-minimal volume_key wget
xfsdump xfsprogs xorg-x11-drivers xorg-x11-fonts-misc xorg-x11-server-Xorg xorg-x11-xauth metacity xrdb
xz fedora-release-iot biosdevname grub2-tools-efi memtest86+ grub2-efi-x64-cdboot syslinux
syslinux-nonlinux`;

const SIMPLIFIED_INSTALLER = `anaconda-dracut atheros-firmware attr basesystem binutils brcmfmac-firmware
bsdtar clevis-dracut clevis-luks cloud-utils-growpart coreos-installer coreos-installer-dracut coreutils
curl device-mapper-multipath dosfstools dracut-config-generic dracut-live dracut-network e2fsprogs
fcoe-utils fdo-init fedora-logos gdisk gzip hostname ima-evm-utils iproute iptables iputils
iscsi-initiator-utils iwlwifi-dvm-firmware iwlwifi-mvm-firmware kernel keyutils less linux-firmware
lldpad lvm2 mdadm nfs-utils nss-softokn openssh-clients ostree plymouth policycoreutils
policycoreutils-python-utils procps-ng realtek-firmware rng-tools rootfiles rpcbind
selinux-policy-targeted setools-console shadow-utils sudo systemd tar traceroute util-linux xfsprogs xz
grub2-efi-x64 grub2-tools grub2-tools-minimal efibootmgr shim-x64 microcode_ctl`;

const BOOTABLE_CONTAINER = `acl attr bootc bootupd chrony container-selinux crun cryptsetup dnf dosfstools
e2fsprogs fwupd gdisk iproute iproute-tc iptables nftables iptables-services kbd keyutils libsss_sudo
linux-firmware logrotate lsof lvm2 nano ncurses NetworkManager-cloud-setup NetworkManager hostname
NetworkManager-team teamd NetworkManager-tui nfs-utils-coreos iptables-nft nss-altfiles openssh-clients
openssh-server openssl ostree shadow-utils podman rpm-ostree selinux-policy-targeted sg3_utils skopeo
socat net-tools bind-utils sssd-client sssd-ad sssd-ipa sssd-krb5 sssd-ldap stalld subscription-manager
sudo systemd systemd-resolved tpm2-tools WALinuxAgent-udev xfsprogs zram-generator cowsay grubby
initscripts NetworkManager-initscripts-ifcfg-rh nodejs plymouth systemd-networkd irqbalance ostree-grub2
perl perl-interpreter librtas powerpc-utils-core ppc64-diag-rtas`;

const BUILD_ROOT = `selinux-policy-targeted coreutils xz glibc systemd python3 rpm rpm-ostree policycoreutils
python3-pyyaml python3-iniparse skopeo openscap-utils libkcapi-hmaccalc shadow-utils gdisk zstd gzip
qemu-img tar dracut-config-generic efibootmgr lorax-templates-generic squashfs-tools erofs-utils
grub2-pc-modules isomd5sum xorriso dosfstools e2fsprogs btrfs-progs clevis clevis-luks cryptsetup`;

function words(s: string): string[] {
  return s.split(/\s+/).filter((w) => w.length > 0);
}

/** Every name from the reference lists, deduplicated, in first-seen order. */
export const FALLBACK_PACKAGE_NAMES: readonly string[] = Object.freeze([
  ...new Set(
    [MINIMAL, MINIMAL_EXTRA, MINIMAL_X86_64, MINIMAL_AARCH64, MINIMAL_RISCV64, IOT_OS, INSTALLER_PLATFORMS, ANACONDA, SIMPLIFIED_INSTALLER,
      BOOTABLE_CONTAINER, BUILD_ROOT].flatMap(words),
  ),
]);

/** The per-image-type lists, for tests that check a whole image set installs together. */
export const FALLBACK_SETS = Object.freeze({
  minimal: words(MINIMAL),
  minimalPlatform: { x86_64: words(MINIMAL_X86_64), aarch64: words(MINIMAL_AARCH64), riscv64: words(MINIMAL_RISCV64) },
  iotOs: words(IOT_OS),
  installerPlatforms: words(INSTALLER_PLATFORMS),
  anaconda: words(ANACONDA),
  simplifiedInstaller: words(SIMPLIFIED_INSTALLER),
  bootableContainer: words(BOOTABLE_CONTAINER),
  buildRoot: words(BUILD_ROOT),
});

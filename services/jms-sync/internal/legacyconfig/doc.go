// Package legacyconfig loads the old Python jms-sync's config.yaml for the
// all-in-one and turns it into the JMSSYNC_* environment the services read.
//
//	f, warnings, err := legacyconfig.Parse(data, os.LookupEnv)
//	// err is an *Error listing every problem, each with its YAML path and line.
//	env := legacyconfig.Merge(f.Env(), processEnv) // the real environment wins
//	cfg, err := config.Load[aliyuncollector.Config](config.WithPrefix(legacyconfig.Prefix), config.WithEnvironment(env))
//
// # What is read
//
// Every key the old tool had, at HEAD and in its first commit: environment.type;
// jumpserver.url, access_key_id, access_key_secret, org_id, verify_ssl,
// protocols.ssh_port/rdp_port, account_templates.linux/windows; clouds[].type,
// name, enabled, access_key_id, access_key_secret, regions, project_id,
// domain_id; sync.whitelist, protected_ips, no_delete, parallel_workers,
// batch_size, cache_ttl; notification.dingtalk.enabled, webhook, secret,
// at_mobiles, at_all; log.level, file, max_size, backup_count, json_format,
// detailed, separate_error_log. Keys jms-sync does not use
// (jumpserver.protocols.*, clouds[].domain_id, sync.cache_ttl,
// log.json_format/detailed/separate_error_log, project_id of an Aliyun cloud)
// give a [WarnIgnoredKey] warning saying why; unknown keys a [WarnUnknownKey]
// warning with path and line. Neither stops the file from loading.
//
// New keys live in the jmssync section, so the old file keeps its shape:
//
//	jmssync:
//	  install_id: prod-1
//	  aliyun_endpoint: …          # all Aliyun accounts (private cloud, simulator)
//	  huawei_endpoint: …          # all Huawei accounts (ECS)
//	  huawei_iam_endpoint: …
//	  clouds:                     # keyed by clouds[].name
//	    生产阿里云:
//	      id: aliyun-prod         # stable id (default: the name); renaming the node keeps the assets
//	      endpoint: …             # Aliyun: this account only; Huawei: must be the same for all
//	      zone: dmz               # JumpServer zone (domain) name
//	    华为云生产:
//	      project_ids: {cn-north-4: 0a1b…, cn-east-3: 9f8e…}
//	      iam_endpoint: …
//	      enterprise_project_id: …
//	  sync:
//	    stopped: keep             # keep | deactivate
//	    absent_passes: 2
//	    delete_grace: 24h         # Go duration, 2d, or seconds
//	    delete_budget: 20
//	    delete_budget_percent: 10 # percent, also "10%"
//	    address: [private, public, eip]
//
// # Differences from the old loader
//
//   - ${NAME} and ${NAME:default} are replaced in every string value before
//     validation, every occurrence (the old loader replaced the first one,
//     after validation, so ${AK} unset became an empty key at run time). A set
//     variable wins over the default even when empty; unset without default
//     gives "" and a [WarnEnvUnset] warning, and a required key left empty
//     says which variable was missing. There is no escape for a literal "${".
//   - Booleans also accept PyYAML's yes/no/on/off and a substituted "true";
//     a list also accepts one comma-separated string (regions: ${REGIONS}).
//   - clouds[].type also accepts aliyun, huaweicloud and huawei (the old
//     factory's names).
//   - Huawei project ids are per region: the old single project_id is used
//     when the cloud has one region; with several it is not used (the
//     collector looks each region up through IAM) and a warning says so.
//   - The same access key listing the same region in two enabled clouds is a
//     problem (two accounts would claim the same instances).
//   - Keys whose effect changes (verify_ssl: false is now honoured,
//     sync.whitelist is now applied, at_mobiles/at_all now @-mention,
//     account templates are now attached, no_delete still deactivates) give a
//     [WarnChanged] warning.
//   - log.level CRITICAL maps to error; without log.level the old DEBUG
//     default is kept only when environment.type is given and not PRODUCTION.
package legacyconfig

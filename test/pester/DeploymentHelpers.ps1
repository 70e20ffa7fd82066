# Shared by Recovery, Prune, Alerts, WhatIf and BlobStore tests (dot-source TestHelpers.ps1 first): a
# deployment with a configured store (a local folder unless told), real certificates and two
# Directory roles; digests of folder trees; the stored files of a backup; a child pwsh whose exit
# code and streams are kept apart.

function New-TestPfx {
    <# A certificate made by openssl: its .cer (to configure) and its .pfx protected by Secret (to restore). #>
    param([Parameter(Mandatory)] [string] $Folder, [Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Secret)
    $cer = New-TestCertificate -Folder $Folder -Name $Name
    $pfx = Join-Path $Folder "$Name.pfx"
    & openssl pkcs12 -export -in $cer -inkey (Join-Path $Folder "$Name.key") -out $pfx -passout "pass:$Secret" 2>$null
    if ($LASTEXITCODE -ne 0) { throw "openssl could not export $pfx" }
    [pscustomobject]@{ Cer = $cer; Pfx = $pfx }
}

function Write-TestRoleData {
    <# A small tree: text files, a binary file, a nested folder, an empty folder and a symbolic link. #>
    param([Parameter(Mandatory)] [string] $Folder, [Parameter(Mandatory)] [string] $Seed)
    New-Item -ItemType Directory -Path (Join-Path $Folder 'nested/deeper'), (Join-Path $Folder 'empty') -Force | Out-Null
    1..5 | ForEach-Object { Set-Content -LiteralPath (Join-Path $Folder "file$_.txt") -Value ("$Seed line $_`n" * 200) }
    Set-Content -LiteralPath (Join-Path $Folder 'nested/deeper/settings.json') -Value "{ `"role`": `"$Seed`" }"
    $random = [byte[]]::new(200000)
    [System.Random]::new($Seed.GetHashCode()).NextBytes($random)
    [System.IO.File]::WriteAllBytes((Join-Path $Folder 'nested/data.bin'), $random)
    New-Item -ItemType SymbolicLink -Path (Join-Path $Folder 'link-to-settings') -Target 'nested/deeper/settings.json' | Out-Null
}

function Edit-TestRoleData {
    <# Changes a role's data the way a live service would: one file changed, one removed, one added. #>
    param([Parameter(Mandatory)] [string] $Folder)
    Add-Content -LiteralPath (Join-Path $Folder 'file1.txt') -Value 'changed after the backup'
    Remove-Item -LiteralPath (Join-Path $Folder 'nested/data.bin')
    Set-Content -LiteralPath (Join-Path $Folder 'added-after-backup.txt') -Value 'new'
}

function Get-FolderDigest {
    <#
    One line per entry under Folder (relative path, kind, size, SHA-256, link target; with -WithTimes
    the write time too), sorted: equal digests mean equal trees. Top-level names in Exclude are skipped.
    #>
    param([Parameter(Mandatory)] [string] $Folder, [string[]] $Exclude = @(), [switch] $WithTimes)
    $root = (Resolve-Path -LiteralPath $Folder).ProviderPath.TrimEnd('/')
    $lines = Get-ChildItem -LiteralPath $root -Recurse -Force | ForEach-Object {
        $relative = $_.FullName.Substring($root.Length + 1)
        if ($Exclude -contains ($relative -split '/')[0]) { return }
        $time = if ($WithTimes) { " $($_.LastWriteTimeUtc.Ticks)" } else { '' }
        if ($_.LinkType) { "L $relative -> $($_.Target)" }
        elseif ($_.PSIsContainer) { "D $relative$time" }
        else { "F $relative $($_.Length) $((Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash)$time" }
    }
    ($lines | Sort-Object) -join "`n"
}

function New-TestDeployment {
    <#
    A new state folder (AZSBACKUP_HOME) holding a local store, and the data of two Directory roles
    WAS and CA beside it (New-TestRoleFolder), configured with the certificate CerPath. Returns the
    folders. StoreSettings (Path, UserName, Password of Set-AzsBackupConfiguration) replace the
    local store, for another kind of store.
    #>
    param([Parameter(Mandatory)] [string] $CerPath, [hashtable] $StoreSettings)
    $stateDirectory = New-TestHome
    try {
        if (-not $StoreSettings) {
            $StoreSettings = @{ Path = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName }
        }
        $deployment = [pscustomobject]@{
            StateDirectory = $stateDirectory
            Store          = $StoreSettings.Path
            Data           = [ordered]@{}
        }
        foreach ($role in 'WAS', 'CA') {
            $folder = New-TestRoleFolder -StateDirectory $stateDirectory -Name "data/$role"
            Write-TestRoleData -Folder $folder -Seed $role
            $deployment.Data[$role] = $folder
        }
        Set-AzsBackupConfiguration @StoreSettings -EncryptionCertPath $CerPath | Out-Null
        foreach ($role in $deployment.Data.Keys) {
            Register-AzsInfrastructureRole -Name $role -Provider Directory -Path $deployment.Data[$role] | Out-Null
        }
    } catch {
        # The caller's AfterEach never sees this deployment: stop its daemon and remove its folder here.
        Remove-TestHome -StateDirectory $stateDirectory
        throw
    }
    $deployment
}

function Get-RoleDigests {
    <# The digest of every role's data folder, by role name. #>
    param([Parameter(Mandatory)] $Deployment)
    $digests = [ordered]@{}
    foreach ($role in $Deployment.Data.Keys) { $digests[$role] = Get-FolderDigest -Folder $Deployment.Data[$role] }
    $digests
}

function Get-StoredRoleFile {
    <# The stored (encrypted) file of one role of one backup: <Store>/MASBackup/<stamp>/<BackupId>/<Role>/<Role>.azsb. #>
    param([Parameter(Mandatory)] [string] $Store, [Parameter(Mandatory)] [string] $BackupId, [Parameter(Mandatory)] [string] $RoleName)
    $file = Get-ChildItem -Path (Join-Path $Store "MASBackup/*/$BackupId/$RoleName/$RoleName.azsb") | Select-Object -First 1
    if (-not $file) { throw "No stored file of role $RoleName in backup $BackupId under $Store" }
    $file.FullName
}

function Switch-FileByte {
    <# Inverts one byte of a file in place (a bit-rot or tampering stand-in). #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [long] $Offset)
    $stream = [System.IO.File]::Open($Path, 'Open', 'ReadWrite')
    try {
        $stream.Position = $Offset
        $byte = $stream.ReadByte()
        $stream.Position = $Offset
        $stream.WriteByte($byte -bxor 0xff)
    } finally {
        $stream.Dispose()
    }
}

function Invoke-PwshProcess {
    <#
    Runs Command in a new `pwsh -NonInteractive` (same environment) in WorkingDirectory (default: the
    repository); returns ExitCode, StdOut and StdErr.
    #>
    param([Parameter(Mandatory)] [string] $Command, [string] $WorkingDirectory = $script:RepoRoot)
    $out = New-TemporaryFile
    $err = New-TemporaryFile
    try {
        $pwsh = Join-Path $script:RepoRoot 'scripts/pwsh.sh'
        & bash -c 'cd "$1" && bash "$2" -NonInteractive -Command "$3" >"$4" 2>"$5" </dev/null' 'pwsh' $WorkingDirectory $pwsh $Command $out.FullName $err.FullName
        [pscustomobject]@{
            ExitCode = $LASTEXITCODE
            StdOut   = [System.IO.File]::ReadAllText($out.FullName)
            StdErr   = [System.IO.File]::ReadAllText($err.FullName)
        }
    } finally {
        Remove-Item -LiteralPath $out.FullName, $err.FullName -ErrorAction SilentlyContinue
    }
}

function Get-FlatText {
    <# Text without colours and white space: pwsh's error view wraps long lines anywhere, even inside a path. #>
    param([AllowEmptyString()] [string] $Text)
    $Text -replace '\x1b\[[0-9;]*m', '' -replace '\s', ''
}

# The PowerShell snippets of Microsoft's Azure Stack Hub infrastructure-backup documentation, run
# as an operator would run them against this module: a real daemon and a local-folder store. The
# snippets are quoted as published; only what names a share, a path or a password is a variable
# ($sharepath, $password, $encryptioncertpath, ...), and the Azure sign-in steps are left out.
# Sources (MicrosoftDocs/azure-stack-docs, learn.microsoft.com):
#   [enable]  azure-stack/operator/azure-stack-backup-enable-backup-powershell.md
#   [tzl]     azure-stack/ruggedized/operator/azure-stack-backup-enable-backup-powershell-tzl.md
#   [backup]  azure-stack/operator/azure-stack-backup-back-up-azure-stack.md
#   [module]  the examples of the Azs.Backup.Admin reference (Get-AzsBackup, Restore-AzsBackup)
#             and the Azure Stack PowerShell 1.7.1 migration guide (Restore-AzsBackup).
# A snippet that cannot run here is not changed: its test says what is missing and why.

BeforeAll {
    $Snippets = @{
        # [enable] "Enable backup on 1901 and later using certificate", without the Read-Host prompt
        # (the password is $password), the example share path ($sharepath is a local folder) and the
        # Windows-only certificate creation (New-SelfSignedCertificate -CertStoreLocation
        # cert:\LocalMachine\My, New-Item C:\Certs, Export-Certificate): New-AzsBackupEncryptionCertificate
        # made $encryptioncertpath. "c:\temp\cert.cer" is $encryptioncertpath.
        EnableBackup          = @'
	# Example username:
 	$username = "domain\backupadmin"

	# Set the backup settings with the name, password, share, and CER certificate file.
 	Set-AzsBackupConfiguration -BackupShare $sharepath -Username $username -Password $password -EncryptionCertPath $encryptioncertpath
'@
        # [enable] "Confirm backup settings"
        ConfirmSettings       = @'
    Get-AzsBackupConfiguration | Select-Object -Property Path, UserName
'@
        # [enable] "Update backup settings"
        UpdateSettings        = @'
    #Set the backup frequency and retention period values.
    $frequencyInHours = 10
    $retentionPeriodInDays = 5

    Set-AzsBackupConfiguration -BackupFrequencyInHours $frequencyInHours -BackupRetentionPeriodInDays $retentionPeriodInDays

    Get-AzsBackupConfiguration | Select-Object -Property Path, UserName, AvailableCapacity, BackupFrequencyInHours, BackupRetentionPeriodInDays
'@
        # [tzl] "Update encryption certificate"; "c:\temp\cert.cer" is $encryptioncertpath.
        UpdateCertificate     = @'
#Set the new encryption certificate by providing local path to CER file.
Set-AzsBackupConfiguration -EncryptionCertPath $encryptioncertpath
'@
        # [tzl] "Enable or disable automatic backups", exactly as published (note "- Isbackupschedulerenabled").
        DisableScheduler      = @'
#Disable automatic backups.
Set-AzsBackupConfiguration - Isbackupschedulerenabled $false
'@
        # The same without the stray space, as operators retype it.
        DisableSchedulerSpace = @'
Set-AzsBackupConfiguration -IsBackupSchedulerEnabled $false
'@
        # [backup] "Start a new backup without job progress tracking"
        StartBackup           = @'
   Start-AzsBackup -Force
'@
        # [module] Start-AzsBackup example
        StartBackupPlain      = @'
Start-AzsBackup
'@
        # [backup] "Start Azure Stack Hub backup with job progress tracking"
        TrackedBackupJob      = @'
    $BackupJob = Start-AzsBackup -Force -AsJob
    While (!$BackupJob.PSBeginTime) {
        Start-Sleep -Milliseconds 1
    }
    Write-Host "Start time: $($BackupJob.PSBeginTime)"
    While ($BackupJob.State -eq "Running") {
        Write-Host "Job is currently: $($BackupJob.State) - Duration: $((New-TimeSpan -Start ($BackupJob.PSBeginTime) -End (Get-Date)).ToString().Split(".")[0])"
        Start-Sleep -Seconds 30
    }

    If ($BackupJob.State -eq "Completed") {
        Get-AzsBackup | Where-Object {$_.BackupId -eq $BackupJob.Output.BackupId}
        $Duration = $BackupJob.Output.TimeTakenToCreate
        $Pattern = '^P?T?((?<Years>\d+)Y)?((?<Months>\d+)M)?((?<Weeks>\d+)W)?((?<Days>\d+)D)?(T((?<Hours>\d+)H)?((?<Minutes>\d+)M)?((?<Seconds>\d*(\.)?\d*)S)?)$'
        If ($Duration -match $Pattern) {
            If (!$Matches.ContainsKey("Hours")) {
                $Hours = ""
            } 
            Else {
                $Hours = ($Matches.Hours).ToString + 'h '
            }
            $Minutes = ($Matches.Minutes)
            $Seconds = [math]::round(($Matches.Seconds))
            $Runtime = '{0}{1:00}m {2:00}s' -f $Hours, $Minutes, $Seconds
        }
        Write-Host "BackupJob: $($BackupJob.Output.BackupId) - Completed with Status: $($BackupJob.Output.Status) - It took: $($Runtime) to run" -ForegroundColor Green
    }
    ElseIf ($BackupJob.State -ne "Completed") {
        $BackupJob
        $BackupJob.Output
    }
'@
        # [backup] "Confirm backup has completed using PowerShell"
        ConfirmBackup         = @'
   Get-AzsBackup
'@
        # [module] Get-AzsBackup examples; 'backupName' is $backupName.
        GetBackupByName       = @'
Get-AzsBackup -Name $backupName
'@
        # [module] Get-AzsBackupConfiguration example
        GetConfiguration      = @'
Get-AzsBackupConfiguration
'@
        # [module] Restore-AzsBackup example and the 1.7.1 migration guide ("# New").
        Restore               = @'
Restore-AzsBackup -Name $backupResourceName -DecryptionCertPath $decryptionCertPath -DecryptionCertPassword $decryptionCertPassword
'@
    }
}

Describe 'Microsoft''s published infrastructure-backup scripts' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $stateDirectory = New-TestHome
        $sharepath = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'AzSBackupStore')).FullName
        $roleData = New-TestRoleFolder -StateDirectory $stateDirectory -Name 'was'
        Set-Content -LiteralPath (Join-Path $roleData 'subscriptions.json') -Value '{ "subscriptions": ["contoso"] }'
        $password = ConvertTo-SecureString 'Share-Password-1' -AsPlainText -Force
        $pfxSecret = 'Pfx-' + [guid]::NewGuid().ToString('N')
        $decryptionCertPassword = ConvertTo-SecureString $pfxSecret -AsPlainText -Force
        $first = New-AzsBackupEncryptionCertificate -CerPath "$stateDirectory/cert.cer" -PfxPath "$stateDirectory/cert.pfx" -PfxPassword $decryptionCertPassword
        $second = New-AzsBackupEncryptionCertificate -CerPath "$stateDirectory/cert2.cer" -PfxPath "$stateDirectory/cert2.pfx" -PfxPassword $decryptionCertPassword
        $encryptioncertpath = $first.CerPath
        Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $roleData | Out-Null

        function Invoke-OperatorScript([string] $Script) {
            <# Runs a snippet in this scope chain (it sees $sharepath, $password, ...), returning its output and Write-Host lines. #>
            $output = @(& ([scriptblock]::Create($Script)) 6>&1)
            @{
                Objects = @($output | Where-Object { $_ -isnot [System.Management.Automation.InformationRecord] })
                Host    = @($output | Where-Object { $_ -is [System.Management.Automation.InformationRecord] } | ForEach-Object { [string]$_.MessageData })
            }
        }
    }

    AfterAll {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    Context 'Enable backup and change its settings' {
        It 'enables backup with -BackupShare, -Username, -Password and -EncryptionCertPath [enable]' {
            $result = Invoke-OperatorScript $Snippets.EnableBackup
            $result.Objects[0].Path | Should -Be $sharepath
            $result.Objects[0].EncryptionCertThumbprint | Should -Be $first.Thumbprint
        }

        It 'confirms the settings: Path and UserName [enable]' {
            $shown = (Invoke-OperatorScript $Snippets.ConfirmSettings).Objects
            $shown.Count | Should -Be 1
            $shown[0].Path | Should -Be $sharepath
            $shown[0].UserName | Should -Be 'domain\backupadmin'
        }

        It 'updates frequency and retention and shows them with AvailableCapacity [enable]' {
            $shown = (Invoke-OperatorScript $Snippets.UpdateSettings).Objects
            # Set-AzsBackupConfiguration's BackupLocation, then the selected view.
            $view = $shown[-1]
            $view.BackupFrequencyInHours | Should -Be 10
            $view.BackupRetentionPeriodInDays | Should -Be 5
            $view.UserName | Should -Be 'domain\backupadmin'
            $view.AvailableCapacity | Should -Match '^\d+(\.\d+)? [KMGTP]?B$'
        }

        It 'sets a new encryption certificate [tzl]' {
            $encryptioncertpath = $second.CerPath
            (Invoke-OperatorScript $Snippets.UpdateCertificate).Objects[0].EncryptionCertThumbprint | Should -Be $second.Thumbprint
            (Get-AzsBackupConfiguration).EncryptionCertThumbprint | Should -Be $second.Thumbprint
        }

        It 'refuses "<_>" in parameter binding, as Azs.Backup.Admin does (its -IsBackupSchedulerEnabled is a switch too), and changes nothing' -ForEach 'DisableScheduler', 'DisableSchedulerSpace' {
            $before = Get-ConfigurationJson
            { Invoke-OperatorScript $Snippets[$_] } | Should -Throw -ErrorId 'PositionalParameterNotFound,Set-AzsBackupConfiguration'
            Get-ConfigurationJson | Should -Be $before
        }
    }

    Context 'Back up and confirm' {
        It 'starts a backup without job progress tracking [backup]' {
            $backup = (Invoke-OperatorScript $Snippets.StartBackup).Objects
            $backup[0].Status | Should -Be 'Succeeded'
        }

        It 'starts a backup with no parameter at all [module]' {
            (Invoke-OperatorScript $Snippets.StartBackupPlain).Objects[0].Status | Should -Be 'Succeeded'
        }

        It 'tracks a backup job: PSBeginTime, State ending Completed, Output.BackupId, Output.TimeTakenToCreate [backup]' {
            $result = Invoke-OperatorScript $Snippets.TrackedBackupJob
            $result.Host[0] | Should -Match '^Start time: \S'
            $result.Host[-1] | Should -Match '^BackupJob: [0-9a-f-]{36} - Completed with Status: Succeeded - It took: .*\d+s to run$'
            $backupId = ($result.Host[-1] -split ' ')[1]
            $result.Objects.Count | Should -Be 1
            $result.Objects[0].BackupId | Should -Be $backupId
        }

        It 'confirms the backup completed, with the properties the documentation shows [backup]' {
            $backups = @((Invoke-OperatorScript $Snippets.ConfirmBackup).Objects)
            $backups.Count | Should -BeGreaterOrEqual 3
            foreach ($name in 'BackupDataVersion', 'BackupId', 'RoleStatus', 'Status', 'CreatedDateTime', 'TimeTakenToCreate', 'DeploymentId', 'StampVersion', 'Name') {
                $backups[0].PSObject.Properties[$name] | Should -Not -BeNullOrEmpty -Because "the documented output shows $name"
            }
            $backups[0].Name | Should -Be "local/$($backups[0].BackupId)"
            $backups[0].TimeTakenToCreate | Should -Match '^PT'
            @($backups[0].RoleStatus.RoleName) | Should -Be @('WAS')
        }

        It 'has the ARM resource properties the documented output also shows (Id, Type, Location, Tags, OemVersion) [backup]' {
            $backup = Get-AzsBackup -Top 1
            foreach ($name in 'Id', 'Type', 'Location', 'Tags', 'OemVersion') {
                $backup.PSObject.Properties.Name | Should -Contain $name -Because "the documented output shows $name"
            }
            $backup.Id | Should -Be "/providers/Microsoft.Backup.Admin/backupLocations/local/backups/$($backup.BackupId)"
            $backup.Type | Should -Be 'Microsoft.Backup.Admin/backupLocations/backups'
            $backup.Location | Should -Be 'local'
        }

        It 'gets one backup by name [module]' {
            $backupName = (Get-AzsBackup -Top 1).BackupId
            (Invoke-OperatorScript $Snippets.GetBackupByName).Objects[0].BackupId | Should -Be $backupName
        }

        It 'gets the configuration [module]' {
            (Invoke-OperatorScript $Snippets.GetConfiguration).Objects[0].Path | Should -Be $sharepath
        }
    }

    Context 'Restore' {
        BeforeAll {
            $backupResourceName = (Get-AzsBackup -Top 1).BackupId
            $decryptionCertPath = $second.PfxPath
            $original = Get-Content -Raw -LiteralPath (Join-Path $roleData 'subscriptions.json')
        }

        BeforeEach {
            Set-Content -LiteralPath (Join-Path $roleData 'subscriptions.json') -Value 'lost'
        }

        It 'asks for confirmation (ConfirmImpact High, as SPEC sets it), so unattended it stops with AzsBackup.ConfirmationRequired and restores nothing [module]' {
            # Azs.Backup.Admin's Restore-AzsBackup is ConfirmImpact Medium: the published line runs without a prompt.
            $env:AZS_TEST_PFX_SECRET = $pfxSecret
            try {
                $script = ('$backupResourceName = ''{0}''; $decryptionCertPath = ''{1}''; ' -f $backupResourceName, $decryptionCertPath) +
                '$decryptionCertPassword = ConvertTo-SecureString $env:AZS_TEST_PFX_SECRET -AsPlainText -Force; ' +
                "Import-Module '$($script:ManifestPath)'; try { $($Snippets.Restore) } catch { `$_.FullyQualifiedErrorId }"
                $lines = @(Invoke-NewPwsh -Command $script)
            } finally {
                Remove-Item -Path Env:AZS_TEST_PFX_SECRET
            }
            $lines[-1] | Should -Be 'AzsBackup.ConfirmationRequired,Restore-AzsBackup'
            (Get-Content -Raw -LiteralPath (Join-Path $roleData 'subscriptions.json')).Trim() | Should -Be 'lost'
        }

        It 'restores the backup, unchanged, in a session where the operator turned confirmation off ($ConfirmPreference = ''None'') [module]' {
            # At the prompt, $ConfirmPreference is global; a script module's functions see only the global one.
            $saved = $global:ConfirmPreference
            $global:ConfirmPreference = 'None'
            try { Invoke-OperatorScript $Snippets.Restore | Out-Null } finally { $global:ConfirmPreference = $saved }
            Get-Content -Raw -LiteralPath (Join-Path $roleData 'subscriptions.json') | Should -Be $original
        }
    }
}
